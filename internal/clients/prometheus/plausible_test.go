package prometheus

import (
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
)

func TestImplausibleSampleTime(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{name: "negative", give: vector(`{"metric":{},"value":[-1,"1"]}`)},
		{name: "beyond 2262", give: vector(`{"metric":{},"value":[10000000000,"1"]}`)},
		{name: "scalar beyond 2262", give: `{"status":"success","data":{"resultType":"scalar","result":[9300000000,"1"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := serve(t, jsonAnswer(http.StatusOK, tt.give), Options{})
			_, err := c.Query(t.Context(), "up")
			if !errors.Is(err, ErrBadAnswer) || !strings.Contains(err.Error(), "sample time") {
				t.Errorf("Query error = %v, want ErrBadAnswer naming the sample time", err)
			}
		})
	}
}

func TestMalformedAnswersAreBadAnswers(t *testing.T) {
	for _, give := range []string{`not json`, `{"status":"pending"}`, `{"status":"success"}`, vector(`{"metric":{},"value":[]}`)} {
		c, _ := serve(t, jsonAnswer(http.StatusOK, give), Options{})
		if _, err := c.Query(t.Context(), "up"); !errors.Is(err, ErrBadAnswer) {
			t.Errorf("Query answered %s: error = %v, want ErrBadAnswer", give, err)
		}
	}
}

func TestResultCheck(t *testing.T) {
	inst := func(v float64) Result {
		return Result{Type: ResultVector, Vector: []Sample{
			{Labels: map[string]string{"instance": "10.0.0.1:8000"}, Value: 1},
			{Labels: map[string]string{"instance": "10.0.0.2:8000", "job": "ratelimiter"}, Value: v},
		}}
	}
	scalar := func(v float64) Result { return Result{Type: ResultScalar, Scalar: Sample{Value: v}} }
	tests := []struct {
		name     string
		give     Result
		giveRg   Range
		wantText string // "" for no error
	}{
		{name: "rate", give: inst(1234.5), giveRg: RateRange},
		{name: "rate zero", give: inst(0), giveRg: RateRange},
		{name: "NaN is no data", give: inst(math.NaN()), giveRg: LatencyRange},
		{name: "+Inf is no data", give: inst(math.Inf(1)), giveRg: RateRange},
		{name: "empty", give: Result{Type: ResultVector}, giveRg: RateRange},
		{name: "up average", give: inst(0.5), giveRg: UpRange},
		{name: "negative rate", give: inst(-5), giveRg: RateRange, wantText: `sample {instance="10.0.0.2:8000", job="ratelimiter"} = -5, want 0 to 1e+09`},
		{name: "absurd rate", give: inst(1e308), giveRg: RateRange, wantText: "= 1e+308"},
		{name: "latency in ms", give: inst(7200), giveRg: LatencyRange, wantText: "= 7200, want 0 to 3600"},
		{name: "up 2", give: inst(2), giveRg: UpRange, wantText: "= 2, want 0 to 1"},
		{name: "negative scalar", give: scalar(-0.1), giveRg: RateRange, wantText: "sample {} = -0.1"},
		{name: "long labels cut", give: Result{Type: ResultVector, Vector: []Sample{{Labels: map[string]string{"x": strings.Repeat("y", 1000)}, Value: -1}}}, giveRg: RateRange, wantText: "...}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give.Check(tt.giveRg)
			if tt.wantText == "" {
				if err != nil {
					t.Errorf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrBadAnswer) || !strings.Contains(err.Error(), tt.wantText) || len(err.Error()) > 300 {
				t.Errorf("Check = %v, want a short ErrBadAnswer containing %q", err, tt.wantText)
			}
		})
	}
}

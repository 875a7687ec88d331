package timestamp

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		give    string
		loc     *time.Location
		want    time.Time
		wantErr bool
	}{
		{give: "2026-01-27T01:48:37.123456", want: time.Date(2026, 1, 27, 1, 48, 37, 123456000, time.UTC)},
		{give: "2026-01-27T01:48:37", want: time.Date(2026, 1, 27, 1, 48, 37, 0, time.UTC)},
		{give: "2026-01-27 01:48:37.5", want: time.Date(2026, 1, 27, 1, 48, 37, 500000000, time.UTC)},
		{give: "2026-01-27T01:48:37", loc: berlin, want: time.Date(2026, 1, 27, 0, 48, 37, 0, time.UTC)},
		{give: "2026-01-27T01:48:37Z", want: time.Date(2026, 1, 27, 1, 48, 37, 0, time.UTC)},
		{give: "2026-01-27T01:48:37.123+02:00", loc: berlin, want: time.Date(2026, 1, 26, 23, 48, 37, 123000000, time.UTC)},
		{give: "2026-01-27T01:48:37.123456+00:00", want: time.Date(2026, 1, 27, 1, 48, 37, 123456000, time.UTC)},
		{give: "", wantErr: true},
		{give: "yesterday", wantErr: true},
		{give: "1769478517", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := Parse(tt.give, tt.loc)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) error = %v, wantErr %v", tt.give, err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("Parse(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

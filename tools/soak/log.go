package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// raisedMsg is the message observerd logs when it raises a violation.
const raisedMsg = "invariant violation raised"

// raisedLine is one violation observerd's log says it raised: a violation
// raised and cleared between two reads of /snapshot is there too.
type raisedLine struct {
	at        time.Time
	invariant string
	subject   string
	severity  string
	message   string
}

func (r raisedLine) key() string { return violationKey(r.invariant, r.subject) }

func (r raisedLine) String() string {
	return fmt.Sprintf("%s violation %s on %q: %s", r.severity, r.invariant, r.subject, r.message)
}

// violationKey names a violation by its invariant and subject.
func violationKey(invariant, subject string) string { return invariant + "\x00" + subject }

// logSize is the size of the log at path: where what is logged from now
// on starts.
func logSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// raisedSince reads the violations raised in observerd's log at path from
// offset on.
func raisedSince(path string, offset int64) ([]raisedLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return parseRaised(f)
}

// parseRaised reads the violations raised in a JSON log; lines of another
// message or another form are skipped.
func parseRaised(r io.Reader) ([]raisedLine, error) {
	var out []raisedLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Msg       string `json:"msg"`
			TS        string `json:"ts"`
			Invariant string `json:"invariant"`
			Subject   string `json:"subject"`
			Severity  string `json:"severity"`
			Message   string `json:"message"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != raisedMsg {
			continue
		}
		at, _ := time.Parse("2006-01-02T15:04:05.000Z0700", l.TS)
		out = append(out, raisedLine{at: at, invariant: l.Invariant, subject: l.Subject, severity: l.Severity, message: l.Message})
	}
	return out, sc.Err()
}

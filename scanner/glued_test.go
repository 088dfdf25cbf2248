package scanner

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// scanBoth scans data whole and streamed in small windows and returns the
// fingerprints each reports, so that every glued case holds on both paths.
func scanBoth(t *testing.T, data []byte) (whole, stream []string) {
	t.Helper()
	var s detSink
	(&Detector{}).ScanBytes(data, finding.Location{Source: finding.SourceFile, Path: "x"}, &s)
	for _, h := range s.hits {
		whole = append(whole, h.Fingerprint)
	}
	var r detSink
	if _, err := (&Detector{Window: 100}).ScanReader(context.Background(), bytes.NewReader(data), finding.Location{Source: finding.SourceFile, Path: "x"}, &r); err != nil {
		t.Fatal(err)
	}
	for _, h := range r.hits {
		stream = append(stream, h.Fingerprint)
	}
	return whole, stream
}

func wantOnce(t *testing.T, data []byte, k string) {
	t.Helper()
	fp := patterns.Fingerprint([]byte(k))
	whole, stream := scanBoth(t, data)
	if len(whole) != 1 || whole[0] != fp {
		t.Errorf("ScanBytes found %d keys, want the key once", len(whole))
	}
	if len(stream) != 1 || stream[0] != fp {
		t.Errorf("ScanReader found %d keys, want the key once", len(stream))
	}
}

// TestGluedSQLite: a real SQLite database stores a 47-byte text column
// with the serial type 2*47+13 = 107, the letter 'k', right before the key.
func TestGluedSQLite(t *testing.T) {
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("sqlite3 CLI not installed (apt-get install sqlite3); TestGluedSQLiteRecord covers the record by hand")
	}
	k := detKey(t, patterns.Production)
	db := filepath.Join(t.TempDir(), "app.db")
	cmd := exec.Command(bin, db)
	cmd.Stdin = strings.NewReader("CREATE TABLE settings(v TEXT);\nINSERT INTO settings VALUES('" + k + "');\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v: %s", err, out)
	}
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("k"+k)) {
		t.Fatal("the database does not glue the serial type 'k' to the key: the test proves nothing")
	}
	wantOnce(t, data, k)
}

// TestGluedSQLiteRecord builds the record bytes by hand, so the case is
// tested where no sqlite3 binary is installed.
func TestGluedSQLiteRecord(t *testing.T) {
	k := detKey(t, patterns.Staging)
	// A table cell: payload size 49, rowid 1, then the record: header size
	// 2, serial type 107 (47-byte text), and the text.
	rec := append([]byte{0x31, 0x01, 0x02, 'k'}, k...)
	wantOnce(t, append(bytes.Repeat([]byte{0}, 300), append(rec, make([]byte, 300)...)...), k)
}

// TestGluedLengthPrefixed: a protobuf string field whose length byte is a
// letter ('a' = 97 bytes) holds the key followed by more base62: glued on
// both sides, still found, from the prefix on.
func TestGluedLengthPrefixed(t *testing.T) {
	k := detKey(t, patterns.Development)
	more := detKey(t, patterns.Development)[9:] // 38 base62 characters
	val := k + more + "Zq7aB0xYw9Ab"            // 97 bytes
	if len(val) != 97 {
		t.Fatalf("value is %d bytes", len(val))
	}
	msg := append([]byte{0x08, 0x96, 0x01, 0x12, byte(len(val))}, val...) // field 1 varint 150, field 2 string
	msg = append(msg, 0x18, 0x01)
	if msg[4] != 'a' {
		t.Fatalf("length byte %q, want 'a'", msg[4])
	}
	wantOnce(t, msg, k)

	// msgpack: a map {"k": key+"X"} with fixstr/str8 headers.
	mp := append([]byte{0x81, 0xa1, 'k', 0xd9, patterns.KeyLen + 1}, k+"X"...)
	wantOnce(t, mp, k)
}

// TestGluedNearMiss: a glued candidate whose checksum fails is a near miss,
// never a finding.
func TestGluedNearMiss(t *testing.T) {
	k := detKey(t, patterns.Production)
	bad := k[:46] + string("ab"[strings.IndexByte("a", k[46])+1])
	var s detSink
	(&Detector{NearMisses: true}).ScanBytes([]byte("k"+bad+"Q"), finding.Location{}, &s)
	if len(s.hits) != 0 || len(s.nears) != 1 {
		t.Fatalf("%d hits and %d near misses, want 0 and 1", len(s.hits), len(s.nears))
	}
}

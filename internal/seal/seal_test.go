package seal

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"vigil/internal/access"
)

func testSealer(t *testing.T, fill byte) *Sealer {
	t.Helper()
	s, err := NewSealer(bytes.Repeat([]byte{fill}, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealRoundTrip(t *testing.T) {
	s := testSealer(t, 1)
	issuer := access.NewIssuer()
	g := issuer.Mint("u1", "cam-a", access.AudienceWeb, time.Hour)
	for _, plain := range [][]byte{nil, {}, []byte("a still"), bytes.Repeat([]byte{0xff}, 1<<20)} {
		sealed, err := s.Seal("cam-a", epochA, access.StreamMain, 7, plain)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != len(plain)+Overhead {
			t.Errorf("sealed %d bytes, want %d+%d", len(sealed), len(plain), Overhead)
		}
		if len(plain) > 16 && bytes.Contains(sealed, plain[:16]) {
			t.Error("plaintext visible in sealed data")
		}
		got, err := s.Open(g, epochA, access.StreamMain, 7, sealed)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open = %d bytes, %v; want the %d bytes sealed", len(got), err, len(plain))
		}
	}
	// Random nonces: the same plaintext never seals to the same bytes.
	a, _ := s.Seal("cam-a", epochA, access.StreamMain, 1, []byte("x"))
	b, _ := s.Seal("cam-a", epochA, access.StreamMain, 1, []byte("x"))
	if bytes.Equal(a, b) {
		t.Error("two seals of the same plaintext are equal: nonce not random")
	}
}

func TestSealOpenRefuses(t *testing.T) {
	s := testSealer(t, 1)
	issuer := access.NewIssuer()
	own := issuer.Mint("u1", "cam-a", access.AudienceWeb, time.Hour)
	sealed, err := s.Seal("cam-a", epochA, access.StreamMain, 42, []byte("front door at night"))
	if err != nil {
		t.Fatal(err)
	}
	tampered := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	cases := []struct {
		name   string
		sealer *Sealer
		grant  access.Grant
		stream access.StreamID
		seq    uint64
		data   []byte
		want   error
	}{
		{"another device's grant", s, issuer.Mint("u2", "cam-b", access.AudienceWeb, time.Hour), access.StreamMain, 42, sealed, ErrOpen},
		{"device id prefix", s, issuer.Mint("u1", "cam-", access.AudienceWeb, time.Hour), access.StreamMain, 42, sealed, ErrOpen},
		{"other stream", s, own, access.StreamSub, 42, sealed, ErrOpen},
		{"other seq", s, own, access.StreamMain, 43, sealed, ErrOpen},
		{"nonce tampered", s, own, access.StreamMain, 42, tampered(0), ErrOpen},
		{"ciphertext tampered", s, own, access.StreamMain, 42, tampered(Overhead - 16 + 3), ErrOpen},
		{"tag tampered", s, own, access.StreamMain, 42, tampered(len(sealed) - 1), ErrOpen},
		{"truncated", s, own, access.StreamMain, 42, sealed[:len(sealed)-1], ErrOpen},
		{"too short", s, own, access.StreamMain, 42, sealed[:10], ErrOpen},
		{"other master key", testSealer(t, 2), own, access.StreamMain, 42, sealed, ErrOpen},
		{"zero grant", s, access.Grant{}, access.StreamMain, 42, sealed, access.ErrNoGrant},
		{"expired grant", s, issuer.Mint("u1", "cam-a", access.AudienceWeb, -time.Second), access.StreamMain, 42, sealed, access.ErrGrantExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.sealer.Open(c.grant, epochA, c.stream, c.seq, c.data)
			if !errors.Is(err, c.want) || got != nil {
				t.Errorf("Open = %q, %v; want nil, %v", got, err, c.want)
			}
		})
	}
}

// TestAssociatedDataUnambiguous: moving a byte between device and stream
// changes the associated data.
func TestAssociatedDataUnambiguous(t *testing.T) {
	a := associatedData("cam-ab", "c", 1)
	b := associatedData("cam-a", "bc", 1)
	if bytes.Equal(a, b) {
		t.Error("associated data is ambiguous")
	}
}

func TestNewSealerRefusesShortKey(t *testing.T) {
	if _, err := NewSealer(make([]byte, 16)); !errors.Is(err, ErrMasterKey) {
		t.Errorf("16-byte key: %v", err)
	}
	master := bytes.Repeat([]byte{3}, MasterKeySize)
	s, err := NewSealer(master)
	if err != nil {
		t.Fatal(err)
	}
	master[0] ^= 0xff // the Sealer keeps its own copy
	sealed, _ := s.Seal("cam-a", epochA, access.StreamMain, 1, []byte("x"))
	g := access.NewIssuer().Mint("u1", "cam-a", access.AudienceWeb, time.Hour)
	if _, err := s.Open(g, epochA, access.StreamMain, 1, sealed); err != nil {
		t.Errorf("open after caller changed its key slice: %v", err)
	}
}

// epochA is the epoch secret the tests seal under.
var epochA = bytes.Repeat([]byte{0xa}, 32)

// TestSealEpochShredding: data sealed in one ownership epoch does not open
// under the next epoch's secret (the store overwrote the old one), and no
// key is derived without an epoch secret.
func TestSealEpochShredding(t *testing.T) {
	s := testSealer(t, 1)
	g := access.NewIssuer().Mint("u-new-owner", "cam-a", access.AudienceWeb, time.Hour)
	sealed, err := s.Seal("cam-a", epochA, access.StreamMain, 5, []byte("the old household's kitchen"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(g, epochA, access.StreamMain, 5, sealed); err != nil {
		t.Fatalf("same epoch: %v", err)
	}
	epochB := bytes.Repeat([]byte{0xb}, 32)
	if got, err := s.Open(g, epochB, access.StreamMain, 5, sealed); !errors.Is(err, ErrOpen) || got != nil {
		t.Fatalf("sealed in epoch A, opened in epoch B: %q, %v; want ErrOpen", got, err)
	}
	for _, bad := range [][]byte{nil, {}, make([]byte, 15)} {
		if _, err := s.Seal("cam-a", bad, access.StreamMain, 5, []byte("x")); !errors.Is(err, ErrEpochSecret) {
			t.Errorf("Seal with a %d-byte epoch secret: %v, want ErrEpochSecret", len(bad), err)
		}
		if _, err := s.Open(g, bad, access.StreamMain, 5, sealed); !errors.Is(err, ErrEpochSecret) {
			t.Errorf("Open with a %d-byte epoch secret: %v, want ErrEpochSecret", len(bad), err)
		}
	}
}

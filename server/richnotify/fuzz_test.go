package richnotify

import (
	"bytes"
	"testing"
)

// FuzzDecrypt feeds arbitrary encryptedContent fields to Decrypt. Whatever arrives, Decrypt must return an error
// or plaintext, never panic; and a correctly sealed item must still round-trip.
func FuzzDecrypt(f *testing.F) {
	a := sharedKeys(f)[0]
	ring, err := NewKeyring(a)
	if err != nil {
		f.Fatal(err)
	}
	good := sealForTest(f, a.Certificate(), a.ID(), a.Thumbprint(), []byte(chatMessageJSON))
	f.Add(good.Data, good.DataSignature, good.DataKey, good.EncryptionCertificateID, good.EncryptionCertificateThumbprint)
	f.Add("", "", "", "", "")
	f.Add("AAAA", "AAAA", "AAAA", a.ID(), "")
	f.Add(good.Data, good.DataSignature, good.DataKey[:10], "", a.Thumbprint())
	f.Add(good.Data[:len(good.Data)-4], good.DataSignature, good.DataKey, a.ID(), "")

	f.Fuzz(func(t *testing.T, data, sig, key, id, thumb string) {
		item := EncryptedContent{Data: data, DataSignature: sig, DataKey: key,
			EncryptionCertificateID: id, EncryptionCertificateThumbprint: thumb}
		plain, err := ring.Decrypt(item)
		if err != nil && plain != nil {
			t.Fatalf("plaintext returned with error %v", err)
		}
		if item == good && (err != nil || !bytes.Equal(plain, []byte(chatMessageJSON))) {
			t.Fatalf("good item failed: %v", err)
		}
	})
}

package accountlink_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/accountlink"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"8C2F0F8E-3C1D-4A53-9F0B-5B0A9A1E2D7C", "8c2f0f8e-3c1d-4a53-9f0b-5b0a9a1e2d7c", true},
		{"  Ada@Contoso.com ", "ada@contoso.com", true},
		{"ada_contoso.com#EXT#@fabrikam.onmicrosoft.com", "ada_contoso.com#ext#@fabrikam.onmicrosoft.com", true},
		{"", "", false},
		{"ada", "", false},
		{"@contoso.com", "", false},
		{"ada@", "", false},
		{"a@b@c", "", false},
		{"ada@contoso.com; bob@contoso.com", "", false},
		{"8c2f0f8e-3c1d-4a53-9f0b", "", false},
	} {
		got, err := accountlink.Normalize(tc.in)
		if !tc.ok {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got)
	}
}

func TestMatchesTheSignedInAccountByIDOrUPN(t *testing.T) {
	assert.True(t, accountlink.Matches("8c2f0f8e-3c1d-4a53-9f0b-5b0a9a1e2d7c", "8C2F0F8E-3C1D-4A53-9F0B-5B0A9A1E2D7C", "x@contoso.com"))
	assert.True(t, accountlink.Matches("ada@contoso.com", "8c2f0f8e-3c1d-4a53-9f0b-5b0a9a1e2d7c", "Ada@Contoso.com"))
	assert.False(t, accountlink.Matches("ada@contoso.com", "8c2f0f8e-3c1d-4a53-9f0b-5b0a9a1e2d7c", "bob@contoso.com"))
	assert.False(t, accountlink.Matches("", "", ""), "an empty link matches nothing")
}

func TestParseCSVReportsEveryBadLine(t *testing.T) {
	file := "\ufeffEmail, Microsoft_Account\n" +
		"ada@personal.example,ada.lovelace@contoso.com\n" +
		"bob@personal.example, 8C2F0F8E-3C1D-4A53-9F0B-5B0A9A1E2D7C\n" +
		"carol,carol@contoso.com\n" +
		"dave@personal.example,dave\n" +
		"ada@personal.example,other@contoso.com\n" +
		"erin@personal.example\n"
	rows, bad, err := accountlink.ParseCSV(strings.NewReader(file))
	require.NoError(t, err)
	assert.Equal(t, []accountlink.Row{
		{Line: 2, Email: "ada@personal.example", MicrosoftAccount: "ada.lovelace@contoso.com"},
		{Line: 3, Email: "bob@personal.example", MicrosoftAccount: "8c2f0f8e-3c1d-4a53-9f0b-5b0a9a1e2d7c"},
	}, rows)
	lines := map[int]string{}
	for _, b := range bad {
		lines[b.Line] = b.Message
	}
	assert.Len(t, lines, 4)
	assert.Contains(t, lines[4], "e-mail")
	assert.Contains(t, lines[5], "object ID")
	assert.Contains(t, lines[6], "already linked on line 2")
	assert.Contains(t, lines[7], "separated by a comma")

	_, bad, err = accountlink.ParseCSV(strings.NewReader("user,account\nada@x.example,ada@contoso.com\n"))
	require.NoError(t, err)
	require.Len(t, bad, 1)
	assert.Equal(t, 1, bad[0].Line)
	assert.Contains(t, bad[0].Message, `"email,microsoft_account"`)
}

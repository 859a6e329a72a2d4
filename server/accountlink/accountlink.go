// Package accountlink lets an administrator allow a Mattermost user to connect a Microsoft account whose e-mail
// differs from the Mattermost one (a renamed domain, a personal Mattermost address, a UPN that is not a mailbox).
// A link only widens who may complete a sign-in: the user must still sign in to that Microsoft account, so a
// link never connects anyone by itself.
package accountlink

import (
	"context"
	"encoding/csv"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/store"
)

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Normalize checks an account as an administrator wrote it (an Entra object id, or a userPrincipalName such as
// ada@contoso.com) and returns the form stored and compared: trimmed and lower-cased.
func Normalize(account string) (string, error) {
	a := strings.ToLower(strings.TrimSpace(account))
	switch {
	case a == "":
		return "", errors.New("The Microsoft account is empty: give its object ID or its user principal name.")
	case guidPattern.MatchString(a):
		return a, nil
	case strings.Count(a, "@") == 1 && !strings.HasPrefix(a, "@") && !strings.HasSuffix(a, "@") && !strings.ContainsAny(a, " ,;<>"):
		return a, nil
	}
	return "", errors.New("The Microsoft account must be an object ID (a GUID such as 8c2f0f8e-3c1d-4a53-9f0b-5b0a9a1e2d7c) or a user principal name such as ada@contoso.com.")
}

// Matches reports whether a signed-in account (its object id and userPrincipalName) is the linked one.
func Matches(linked, accountID, userPrincipalName string) bool {
	return linked != "" && (strings.EqualFold(linked, accountID) || strings.EqualFold(linked, strings.TrimSpace(userPrincipalName)))
}

// Store holds the links; *store.Store implements it.
type Store interface {
	GetAccountLink(ctx context.Context, mmUserID string) (store.AccountLink, error)
}

// Checker answers the sign-in's question: may this user connect this account although the e-mails differ?
type Checker struct{ Store Store }

// Allows reports whether the user's link names the signed-in account.
func (c Checker) Allows(ctx context.Context, mmUserID, accountID, userPrincipalName string) (bool, error) {
	l, err := c.Store.GetAccountLink(ctx, mmUserID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, errors.Wrap(err, "read the user's Microsoft account link")
	}
	return Matches(l.MicrosoftAccount, accountID, userPrincipalName), nil
}

// Row is one line of an uploaded links file, before the Mattermost user is looked up.
type Row struct {
	Line             int
	Email            string // the Mattermost user's e-mail
	MicrosoftAccount string // normalized
}

// LineError is a problem with one line of an uploaded file, for the administrator.
type LineError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// Header is the first line of a links file.
const Header = "email,microsoft_account"

// ParseCSV reads a links file: the header "email,microsoft_account", then one Mattermost e-mail and one
// Microsoft account per line. Every bad line is reported with its number; err is for a failed read.
func ParseCSV(r io.Reader) (rows []Row, bad []LineError, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	seen := map[string]int{}
	for first := true; ; first = false {
		rec, rerr := cr.Read()
		if rerr == io.EOF {
			break
		}
		var perr *csv.ParseError
		if errors.As(rerr, &perr) {
			bad = append(bad, LineError{Line: perr.Line, Message: "This line is not valid CSV."})
			continue
		}
		if rerr != nil {
			return nil, nil, errors.Wrap(rerr, "read account links")
		}
		line, _ := cr.FieldPos(0)
		if first {
			if got := strings.ToLower(strings.Join(rec, ",")); strings.TrimPrefix(strings.ReplaceAll(got, " ", ""), "\ufeff") != Header {
				bad = append(bad, LineError{Line: line, Message: `The first line must be the header "` + Header + `".`})
			}
			continue
		}
		if len(rec) != 2 {
			bad = append(bad, LineError{Line: line, Message: "Each line must hold a Mattermost e-mail and a Microsoft account, separated by a comma."})
			continue
		}
		email := strings.ToLower(strings.TrimSpace(rec[0]))
		if !strings.Contains(email, "@") {
			bad = append(bad, LineError{Line: line, Message: "The first column must be the Mattermost user's e-mail address."})
			continue
		}
		account, nerr := Normalize(rec[1])
		if nerr != nil {
			bad = append(bad, LineError{Line: line, Message: nerr.Error()})
			continue
		}
		if prev, dup := seen[email]; dup {
			bad = append(bad, LineError{Line: line, Message: "This e-mail is already linked on line " + strconv.Itoa(prev) + "; a user can be linked to one Microsoft account."})
			continue
		}
		seen[email] = line
		rows = append(rows, Row{Line: line, Email: email, MicrosoftAccount: account})
	}
	return rows, bad, nil
}

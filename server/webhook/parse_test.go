package webhook

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseResource(t *testing.T) {
	tests := []struct {
		resource string
		want     Resource
	}{
		{"chats('19:8b081ef6-4792-4def-b2c9-c363a1bf41d5_5031bb31-22c0-4f6f-9f73-91d34ab2b32d@unq.gbl.spaces')/messages('1612289765949')",
			Resource{Kind: KindChatMessage, ChatID: "19:8b081ef6-4792-4def-b2c9-c363a1bf41d5_5031bb31-22c0-4f6f-9f73-91d34ab2b32d@unq.gbl.spaces", MessageID: "1612289765949"}},
		{"chats('19:meeting_NjQ4@thread.v2')/messages('1')", Resource{Kind: KindChatMessage, ChatID: "19:meeting_NjQ4@thread.v2", MessageID: "1"}},
		{"/chats('19:a@thread.v2')/messages('2')", Resource{Kind: KindChatMessage, ChatID: "19:a@thread.v2", MessageID: "2"}},
		{"Chats('19:a@thread.v2')/Messages('2')", Resource{Kind: KindChatMessage, ChatID: "19:a@thread.v2", MessageID: "2"}},
		// percent-encoded ids, as the Go SDK writes them
		{"chats('19%3Aabc%40thread.v2')/messages('3')", Resource{Kind: KindChatMessage, ChatID: "19:abc@thread.v2", MessageID: "3"}},
		{"chats/19%3Aabc%40thread.v2/messages/4", Resource{Kind: KindChatMessage, ChatID: "19:abc@thread.v2", MessageID: "4"}},
		{"chats/19:abc@thread.v2/messages/5", Resource{Kind: KindChatMessage, ChatID: "19:abc@thread.v2", MessageID: "5"}},
		// odd ids: OData-escaped quote, parentheses and slashes inside quotes, '+' kept literally
		{"chats('19:it''s@thread.v2')/messages('6')", Resource{Kind: KindChatMessage, ChatID: "19:it's@thread.v2", MessageID: "6"}},
		{"chats('19:a(b)/c@thread.v2')/messages('7')", Resource{Kind: KindChatMessage, ChatID: "19:a(b)/c@thread.v2", MessageID: "7"}},
		{"chats('19:a+b@thread.v2')/messages('8')", Resource{Kind: KindChatMessage, ChatID: "19:a+b@thread.v2", MessageID: "8"}},
		{"chats(19:unquoted@thread.v2)/messages(9)", Resource{Kind: KindChatMessage, ChatID: "19:unquoted@thread.v2", MessageID: "9"}},
		// user-scoped forms
		{"users('5031bb31-22c0-4f6f-9f73-91d34ab2b32d')/chats('19:a@thread.v2')/messages('10')", Resource{Kind: KindChatMessage, ChatID: "19:a@thread.v2", MessageID: "10"}},
		{"users/5031bb31/chats/19:a@thread.v2/messages/11", Resource{Kind: KindChatMessage, ChatID: "19:a@thread.v2", MessageID: "11"}},
		{"me/chats('19:a@thread.v2')/messages('12')", Resource{Kind: KindChatMessage, ChatID: "19:a@thread.v2", MessageID: "12"}},
		// channels: parsed, flagged unsupported by Kind
		{"teams('fbe2bf47-16c8-47cf-b4a5-4b9b187c508b')/channels('19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2')/messages('1612293113399')",
			Resource{Kind: KindChannelMessage, TeamID: "fbe2bf47-16c8-47cf-b4a5-4b9b187c508b", ChannelID: "19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2", MessageID: "1612293113399"}},
		{"teams('t')/channels('c')/messages('1')/replies('2')", Resource{Kind: KindChannelMessage, TeamID: "t", ChannelID: "c", MessageID: "1", ReplyID: "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			got, err := ParseResource(tt.resource)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	for _, bad := range []string{
		"", "/", "chats('19:a@thread.v2')", "chats('19:a@thread.v2')/messages", "chats('a')/messages('')",
		"chats('a')/messages('1')/hostedContents('h')", "chats('unterminated/messages('1')", "chats('a'x)/messages('1')",
		"chats('a')messages('1')", "chats('a')/messages('1')/", "chats('%zz')/messages('1')", "chats/a/messages/%zz",
		"users('u')/events('e')", "teams('t')/channels('c')", "messages('1')/chats('a')", "chats(a/messages(1)",
		"//chats('a')/messages('1')",
	} {
		t.Run("bad "+bad, func(t *testing.T) {
			got, err := ParseResource(bad)
			assert.Error(t, err)
			assert.Equal(t, KindUnknown, got.Kind)
		})
	}
}

func TestParseChanges(t *testing.T) {
	body := `{"value":[
	  {"subscriptionId":"sub","subscriptionExpirationDateTime":"2026-11-27T13:00:00.1234567-01:00","changeType":"updated",
	   "clientState":"cs","resource":"unexpected/form","tenantId":"t",
	   "resourceData":{"id":"42","@odata.type":"#Microsoft.Graph.chatMessage","@odata.id":"chats('19:a@thread.v2')/messages('42')"}},
	  {"subscriptionId":"sub","subscriptionExpirationDateTime":"not a time","changeType":"deleted","resource":"nope"}
	], "validationTokens":["t1","t2"], "unknownField":{"ignored":true}}`
	b, err := ParseChanges([]byte(body))
	require.NoError(t, err)
	assert.Equal(t, []string{"t1", "t2"}, b.ValidationTokens)
	require.Len(t, b.Items, 2)
	assert.Equal(t, Item{SubscriptionID: "sub", ChangeType: "updated", ClientState: "cs", Resource: "unexpected/form",
		Kind: KindChatMessage, ChatID: "19:a@thread.v2", MessageID: "42", TenantID: "t",
		SubscriptionExpiration: time.Date(2026, 11, 27, 14, 0, 0, 123456700, time.UTC)}, b.Items[0],
		"resourceData's @odata.id stands in for a resource in an unknown form; the offset is normalised to UTC")
	assert.Equal(t, KindUnknown, b.Items[1].Kind)
	assert.True(t, b.Items[1].SubscriptionExpiration.IsZero())

	empty, err := ParseChanges([]byte(`{"value":[]}`))
	require.NoError(t, err)
	assert.Empty(t, empty.Items)
}

package reply

// What users read. Each says what happened and what to do next; %s is "reply" or "reaction".
const (
	msgTopLevel = "Messages you write here stay in Mattermost. To answer in Microsoft Teams, reply in the thread " +
		"of the Teams message you want to answer."
	msgNotTeamsThread = "This reply stays in Mattermost: the message you replied to did not come from Microsoft Teams. " +
		"To answer in Teams, reply in the thread of a forwarded Teams message."
	msgSent         = "Sent to Microsoft Teams."
	msgFilesNotSent = "Not sent to Microsoft Teams: %s. Only pictures go with a reply; open Teams to share files."

	msgNotConnected = "Your %s was not sent to Microsoft Teams: your Mattermost account is not connected to Teams " +
		"(or the connection was lost). Run `/msteams connect` to connect, then try again."
	msgThrottled = "Your %s was not sent to Microsoft Teams: Teams is limiting requests right now and did not accept " +
		"it after several tries. Wait a few minutes and try again, or answer in Teams."
	msgChatGone = "Your %s was not sent to Microsoft Teams: Teams says you are no longer in this chat, or the chat " +
		"or message no longer exists. Open the chat in Teams to check."
	msgForbiddenPermission = "Your %s was not sent to Microsoft Teams: Teams refused it because this integration " +
		"lacks the ChatMessage.Send permission for your account. Ask your Mattermost administrator to grant it " +
		"(see the plugin's README, \"Replying, reacting\"), or answer in Teams."
	msgRejected = "Your %s was not sent to Microsoft Teams: Teams did not accept its content. Try a shorter or " +
		"simpler message, or answer in Teams."
	msgTooLate = "Your reply was not sent to Microsoft Teams: Teams could not be reached for over an hour after you " +
		"wrote it, and an answer that late could confuse the chat. Answer in Teams, or reply here again."
	msgTryAgain = "Your %s was not sent to Microsoft Teams because of an unexpected error. Try again in a moment; " +
		"if it keeps failing, answer in Teams and tell your Mattermost administrator."

	msgNoPermission = "Your %s was not sent to Microsoft Teams: answering from Mattermost needs the optional " +
		"ChatMessage.Send permission, which your organisation has not granted to this integration. Ask your " +
		"Mattermost administrator to add ChatMessage.Send to the app registration in Microsoft Entra (see the " +
		"plugin's README, \"Replying, reacting\"). Until then, answer in Teams."
	msgPermissionUnknown = msgNoPermission + " If it was granted recently, [sign in to Microsoft again](%s) " +
		"to use it."
	msgReconnectNow = "Your %s was not sent to Microsoft Teams: answering from Mattermost is available, but your " +
		"Microsoft sign-in is older than the permission it needs. [Sign in to Microsoft again](%s) (you stay " +
		"connected meanwhile), then try again."
	msgReconnectAsk = "You can now answer Microsoft Teams messages from here: reply in the thread of a forwarded " +
		"Teams message, or react to it with an emoji. Your Microsoft sign-in is older than the permission this " +
		"needs, so [sign in to Microsoft again](%s) to turn it on. Nothing else changes: your Teams messages keep " +
		"arriving here meanwhile."
)

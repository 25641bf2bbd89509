package slack

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

// recheckUnmapped is how long an unmapped Slack user stays unmapped before
// the bot asks Slack for their email again (they may have joined the fleet).
const recheckUnmapped = time.Hour

// person is a Slack user as UFO records them: a fleet member when mapped,
// else by Slack id and name.
type person struct {
	SlackID string
	UserID  *string
	Name    string
}

// author is how a message by this person is stored.
func (p person) author() (typ, id, name string) {
	if p.UserID != nil {
		return "user", *p.UserID, p.Name
	}
	return "slack", p.SlackID, p.Name
}

// person maps a Slack user to a fleet member: a mapping already recorded
// (by /ufo link or an earlier lookup) wins; otherwise users.info gives
// their verified email, matched against the fleet's members. When Slack
// cannot be asked, the user is still recorded by id, unmapped.
func (b *Bot) person(ctx context.Context, fleetID, teamID, slackID, fallbackName string) person {
	p := person{SlackID: slackID, Name: fallbackName}
	if p.Name == "" {
		p.Name = slackID
	}
	known, err := b.store.FindSlackUser(ctx, fleetID, teamID, slackID)
	if err == nil {
		if known.Name != "" {
			p.Name = known.Name
		}
		if known.UserID != nil {
			p.UserID, p.Name = known.UserID, known.UserName
			return p
		}
		if time.Since(known.CheckedAt) < recheckUnmapped {
			return p
		}
	} else if !app.IsCode(err, app.ENotFound) {
		b.log.Warn("slack: find user", "err", err)
		return p
	}
	info, err := b.api.GetUserInfoContext(ctx, slackID)
	if err != nil {
		b.log.Warn("slack: users.info", "user", slackID, "err", err)
		return p
	}
	name := info.RealName
	if name == "" {
		name = info.Profile.DisplayName
	}
	if name == "" {
		name = info.Name
	}
	email := ""
	if info.IsEmailConfirmed {
		email = info.Profile.Email
	}
	var u store.SlackUser
	if u, err = b.store.MapSlackUserByEmail(ctx, fleetID, teamID, slackID, name, email); err != nil {
		b.log.Warn("slack: record user", "err", err)
		p.Name = name
		return p
	}
	p.Name = u.Name
	if u.UserID != nil {
		p.UserID, p.Name = u.UserID, u.UserName
	}
	return p
}

var (
	userRef    = regexp.MustCompile(`<@([UW][A-Z0-9]+)(?:\|([^>]*))?>`)
	channelRef = regexp.MustCompile(`<#([CG][A-Z0-9]+)(?:\|([^>]*))?>`)
	specialRef = regexp.MustCompile(`<!([a-z]+)(?:\^[^|>]*)?(?:\|([^>]*))?>`)
	linkRef    = regexp.MustCompile(`<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>`)
)

// plainText turns Slack's message formatting back into the text a person
// typed: mentions and channels by name, links by URL, and &, <, >
// unescaped. Slack escapes those three even in slash-command text.
func plainText(s string) string {
	name := func(re *regexp.Regexp, prefix string) func(string) string {
		return func(m string) string {
			sub := re.FindStringSubmatch(m)
			if sub[2] != "" {
				return prefix + sub[2]
			}
			return prefix + sub[1]
		}
	}
	s = userRef.ReplaceAllStringFunc(s, name(userRef, "@"))
	s = channelRef.ReplaceAllStringFunc(s, name(channelRef, "#"))
	s = specialRef.ReplaceAllStringFunc(s, name(specialRef, "@"))
	s = linkRef.ReplaceAllString(s, "$1")
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// withoutMention removes the leading mention of the bot from a message.
func withoutMention(text, botUser string) string {
	text = strings.TrimSpace(text)
	for {
		m := userRef.FindStringSubmatchIndex(text)
		if m == nil || m[0] != 0 {
			return text
		}
		if id := text[m[2]:m[3]]; botUser != "" && id != botUser {
			return text
		}
		text = strings.TrimSpace(text[m[1]:])
	}
}

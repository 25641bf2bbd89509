package slack

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"

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
	p, _ := b.lookup(ctx, fleetID, teamID, slackID, fallbackName)
	return p
}

// lookup is person, and also returns what users.info said when it was
// asked (nil when it was not, or failed).
func (b *Bot) lookup(ctx context.Context, fleetID, teamID, slackID, fallbackName string) (person, *slack.User) {
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
			return p, nil
		}
		if time.Since(known.CheckedAt) < recheckUnmapped {
			return p, nil
		}
	} else if !app.IsCode(err, app.ENotFound) {
		b.log.Warn("slack: find user", "err", err)
		return p, nil
	}
	info, err := b.api.GetUserInfoContext(ctx, slackID)
	if err != nil {
		b.log.Warn("slack: users.info", "user", slackID, "err", err)
		return p, nil
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
		return p, info
	}
	p.Name = u.Name
	if u.UserID != nil {
		p.UserID, p.Name = u.UserID, u.UserName
	}
	return p, info
}

// linkFirst answers a Slack user who may not change anything.
const linkFirst = "UFO does not know you as a member of this fleet, so it changed nothing. " +
	"Link yourself first: `/ufo link <code>`, or ask an admin (to add you to the fleet with the email verified on your Slack account)."

// actor is person for someone who wants to change something: start,
// cancel, retry or assign an operation, or write in its thread. A fleet
// member (mapped by verified email or by /ufo link) may. An unmapped user
// may only when the workspace was linked by a member who is still an admin
// of the fleet and users.info, asked now, says they are a full member of
// the workspace: not a guest (restricted or ultra-restricted), not from
// another organisation, not a bot, not deactivated. Anyone else is refused
// with app.EForbidden and linkFirst; when Slack cannot be asked, the
// error is internal (retry), never a yes.
func (b *Bot) actor(ctx context.Context, fleetID, teamID, slackID, fallbackName string) (person, error) {
	if slackID == "" {
		return person{}, app.Errorf(app.EForbidden, linkFirst)
	}
	p, info := b.lookup(ctx, fleetID, teamID, slackID, fallbackName)
	if p.UserID != nil {
		return p, nil
	}
	open, err := b.store.SlackWorkspaceLinkedByAdmin(ctx, fleetID, teamID)
	if err != nil {
		return p, err
	}
	if !open {
		return p, app.Errorf(app.EForbidden, linkFirst)
	}
	if info == nil {
		info, err = b.api.GetUserInfoContext(ctx, slackID)
		if slackErrorCode(err) != "" {
			b.log.Info("slack: users.info refused; treating the user as unknown", "user", slackID, "err", err)
			return p, app.Errorf(app.EForbidden, linkFirst)
		}
		if err != nil {
			return p, fmt.Errorf("slack users.info %s: %w", slackID, err)
		}
	}
	if info.IsRestricted || info.IsUltraRestricted || info.IsStranger || info.IsBot || info.Deleted {
		return p, app.Errorf(app.EForbidden, linkFirst)
	}
	return p, nil
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

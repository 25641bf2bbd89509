package app

import (
	"regexp"
	"strings"
	"unicode"
)

var missionKey = regexp.MustCompile(`^[A-Z]{2,6}$`)

// ValidMissionKey reports whether key is 2–6 capital letters.
func ValidMissionKey(key string) bool { return missionKey.MatchString(key) }

var operationCode = regexp.MustCompile(`^([A-Z]{2,6})-([1-9][0-9]{0,8})$`)

// ParseCode splits "MSJ-12" into its key and number.
func ParseCode(code string) (key string, number int, ok bool) {
	m := operationCode.FindStringSubmatch(code)
	if m == nil {
		return "", 0, false
	}
	n := 0
	for _, c := range m[2] {
		n = n*10 + int(c-'0')
	}
	return m[1], n, true
}

// Slug makes a short branch-safe slug of a title.
func Slug(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

// BranchName is the branch a pilot works on for an operation.
func BranchName(prefix, code, title string) string {
	if prefix == "" {
		prefix = "ufo/"
	}
	s := Slug(title)
	if s == "" {
		return prefix + code
	}
	return prefix + code + "-" + s
}

// RoleAtLeast reports whether role has at least the power of min.
func RoleAtLeast(role, min string) bool {
	rank := map[string]int{RoleMember: 1, RoleAdmin: 2, RoleOwner: 3}
	return rank[role] >= rank[min] && rank[min] > 0
}

// Package phone validates phone numbers, blocks numbers that must never be
// called automatically, and masks numbers for logs and API responses.
//
// Numbers are stored in E.164 form ("+4915112345678"). Validation and number
// types come from github.com/nyaruka/phonenumbers, the Go port of Google's
// libphonenumber, so every region that library has metadata for is covered.
//
// Only fixed-line, mobile, fixed-line-or-mobile (NANP regions cannot tell
// the two apart) and VoIP numbers are callable. Everything else is blocked
// with a machine-readable reason: emergency services, short codes,
// premium-rate, shared-cost and toll-free numbers, universal access numbers
// (UAN), voicemail access numbers, pagers, personal (forwarding) numbers, and
// numbers of no known type.
package phone

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Reasons in BlockedError.Reason.
const (
	ReasonEmergency   = "emergency"
	ReasonShortCode   = "short_code"
	ReasonPremiumRate = "premium_rate"
	ReasonSharedCost  = "shared_cost"
	ReasonTollFree    = "toll_free"
	ReasonUAN         = "uan"
	ReasonVoicemail   = "voicemail"
	ReasonPager       = "pager"
	ReasonPersonal    = "personal_number"
	ReasonInvalid     = "invalid"
)

// ErrInvalidNumber is wrapped by Normalize when the input is not a valid
// phone number.
var ErrInvalidNumber = errors.New("invalid phone number")

// BlockedError reports a number that must not be called.
type BlockedError struct {
	// Reason is one of the Reason* constants.
	Reason string
	// Number is the number as given, masked with Mask.
	Number string
	// Detail explains to people why the number is blocked.
	Detail string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("phone number %s is blocked (%s): %s", e.Number, e.Reason, e.Detail)
}

// Normalize parses raw, a number as a person typed it, and returns it in
// E.164 form. A number without a leading "+" or international prefix is read
// as a national number of defaultRegion, an ISO 3166-1 alpha-2 code such as
// "DE" (case-insensitive). With an empty defaultRegion, only international
// numbers are accepted.
//
// An emergency number or a short code of defaultRegion ("112", "911") returns
// a *BlockedError; any other number that is not a valid phone number returns
// an error wrapping ErrInvalidNumber. So does a number with an extension
// ("+1 202 555 0101 ext. 5"). A valid number that Check blocks returns
// Check's *BlockedError, so a nil error means the number is callable.
func Normalize(raw, defaultRegion string) (string, error) {
	raw = strings.TrimSpace(raw)
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if raw == "" {
		return "", fmt.Errorf("%w: the number is empty", ErrInvalidNumber)
	}
	if region != "" && !phonenumbers.GetSupportedRegions()[region] {
		return "", fmt.Errorf("%w: unknown region %q: use an ISO 3166-1 alpha-2 code such as \"DE\" or \"US\"", ErrInvalidNumber, defaultRegion)
	}

	// A number dialed without a country code may be a service number of the
	// region, and the error names it instead of calling it an invalid
	// national number.
	if region != "" && !strings.HasPrefix(raw, "+") {
		if phonenumbers.IsEmergencyNumber(raw, region) {
			return "", &BlockedError{Reason: ReasonEmergency, Number: Mask(raw), Detail: "it is an emergency number in " + region}
		}
	}

	parseRegion := region
	if parseRegion == "" {
		parseRegion = "ZZ" // unknown region: the number must carry its country code
	}
	num, err := phonenumbers.Parse(raw, parseRegion)
	if err != nil {
		if region == "" && !strings.HasPrefix(raw, "+") {
			return "", fmt.Errorf("%w: %q has no country code: start it with \"+\" or give a default region", ErrInvalidNumber, Mask(raw))
		}
		return "", fmt.Errorf("%w: %q cannot be read as a phone number: %w", ErrInvalidNumber, Mask(raw), err)
	}
	// A call cannot dial an extension once it is connected, so a number
	// with one is rejected instead of silently calling the main line.
	if num.GetExtension() != "" {
		return "", fmt.Errorf("%w: %q has an extension, which a call cannot dial: give the member's direct number without the extension", ErrInvalidNumber, Mask(raw))
	}

	if !phonenumbers.IsValidNumber(num) {
		if phonenumbers.IsValidShortNumber(num) {
			return "", &BlockedError{Reason: ReasonShortCode, Number: Mask(raw), Detail: "it is a short code, not a full phone number"}
		}
		return "", fmt.Errorf("%w: %q is not a valid number for %s: %s", ErrInvalidNumber, Mask(raw), regionName(num), possibleReason(num))
	}

	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if err := Check(e164); err != nil {
		return "", err
	}
	return e164, nil
}

// Check returns a *BlockedError when the E.164 number must not be called,
// and nil when it may be. A number that is not in canonical E.164 form, or
// not a valid number, is blocked with ReasonInvalid.
//
// Results are cached, because the state machine checks every phone of every
// routed alert and the library's parsing costs tens of microseconds.
func Check(e164 string) error {
	if err, ok := checkCache.get(e164); ok {
		return err
	}
	err := check(e164)
	checkCache.put(e164, err)
	return err
}

func check(e164 string) error {
	num, err := phonenumbers.Parse(e164, "ZZ")
	if err != nil || !strings.HasPrefix(e164, "+") {
		return &BlockedError{Reason: ReasonInvalid, Number: Mask(e164), Detail: "it is not an E.164 number such as +4915112345678"}
	}
	if canonical := phonenumbers.Format(num, phonenumbers.E164); canonical != e164 {
		return &BlockedError{Reason: ReasonInvalid, Number: Mask(e164), Detail: "it is not in canonical E.164 form (" + Mask(canonical) + "): normalize it first"}
	}

	// An emergency or short number with its country code in front ("+49112")
	// is not a valid number, but its own reason is clearer than "invalid".
	national := phonenumbers.GetNationalSignificantNumber(num)
	for _, region := range phonenumbers.GetRegionCodesForCountryCode(int(num.GetCountryCode())) {
		if phonenumbers.IsEmergencyNumber(national, region) {
			return &BlockedError{Reason: ReasonEmergency, Number: Mask(e164), Detail: "it is an emergency number in " + region}
		}
	}
	if !phonenumbers.IsValidNumber(num) {
		if phonenumbers.IsValidShortNumber(num) {
			return &BlockedError{Reason: ReasonShortCode, Number: Mask(e164), Detail: "it is a short code, not a full phone number"}
		}
		return &BlockedError{Reason: ReasonInvalid, Number: Mask(e164), Detail: "it is not a valid number for " + regionName(num) + ": " + possibleReason(num)}
	}

	reason, detail := blockedType(phonenumbers.GetNumberType(num))
	if reason != "" {
		return &BlockedError{Reason: reason, Number: Mask(e164), Detail: detail + " in " + regionName(num)}
	}
	return nil
}

// blockedType returns the reason a number type is blocked, or "" when
// numbers of the type reach a person and may be called.
func blockedType(t phonenumbers.PhoneNumberType) (reason, detail string) {
	switch t {
	case phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE, phonenumbers.VOIP:
		return "", ""
	case phonenumbers.TOLL_FREE:
		return ReasonTollFree, "it is a toll-free number"
	case phonenumbers.PREMIUM_RATE:
		return ReasonPremiumRate, "it is a premium-rate number"
	case phonenumbers.SHARED_COST:
		return ReasonSharedCost, "it is a shared-cost number"
	case phonenumbers.UAN:
		return ReasonUAN, "it is a universal access (company) number"
	case phonenumbers.VOICEMAIL:
		return ReasonVoicemail, "it is a voicemail access number"
	case phonenumbers.PAGER:
		return ReasonPager, "it is a pager number"
	case phonenumbers.PERSONAL_NUMBER:
		// Personal numbers (UK 070, German 0700) forward at the owner's
		// choice and are often charged at special rates.
		return ReasonPersonal, "it is a personal (forwarding) number"
	default:
		return ReasonInvalid, "it is a number of unknown type"
	}
}

func regionName(num *phonenumbers.PhoneNumber) string {
	if r := phonenumbers.GetRegionCodeForNumber(num); r != "" && r != "ZZ" {
		return r
	}
	return "country code +" + strconv.Itoa(int(num.GetCountryCode()))
}

func possibleReason(num *phonenumbers.PhoneNumber) string {
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "unknown country code"
	case phonenumbers.TOO_SHORT:
		return "too short"
	case phonenumbers.TOO_LONG:
		return "too long"
	case phonenumbers.INVALID_LENGTH:
		return "wrong length"
	default:
		return "no number range of the country matches it"
	}
}

// Mask hides the middle digits of a number for logs and API responses. It keeps
// a "+", the country calling code and the next three digits, then writes
// "****" and the last three digits: "+4915112345678" becomes
// "+49151****678" and "+14155550123" becomes "+1415****123". The kept prefix
// shrinks so that at least four digits stay hidden, and a number of fewer
// than seven digits is masked whole ("+****"). Characters other than digits
// are dropped, so Mask never returns more than these digits of any input.
func Mask(e164 string) string {
	digits := make([]byte, 0, len(e164))
	for i := 0; i < len(e164); i++ {
		if c := e164[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	n := len(digits)
	if n < 7 {
		return "+****"
	}

	keep := countryCodeLength(digits) + 3
	keep = min(keep, n-3-4)
	return "+" + string(digits[:keep]) + "****" + string(digits[n-3:])
}

// countryCodeLength returns the length of the calling code that digits start
// with. Calling codes are prefix-free, so the first known prefix is the code;
// an unknown code counts as one digit.
func countryCodeLength(digits []byte) int {
	codes := phonenumbers.GetSupportedCallingCodes()
	code := 0
	for i := 0; i < 3 && i < len(digits); i++ {
		code = code*10 + int(digits[i]-'0')
		if codes[code] {
			return i + 1
		}
	}
	return 1
}

// maxCachedChecks bounds the memory of the Check cache. When it is full, the
// cache starts over; results do not depend on it.
const maxCachedChecks = 10000

var checkCache = &resultCache{entries: map[string]error{}}

type resultCache struct {
	mu      sync.Mutex
	entries map[string]error
}

func (c *resultCache) get(key string) (error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err, ok := c.entries[key]
	return err, ok
}

func (c *resultCache) put(key string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedChecks {
		clear(c.entries)
	}
	c.entries[key] = err
}

package phone

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func blockedReason(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("error %v is not a *BlockedError", err)
	}
	return be.Reason
}

func sortedRegions() []string {
	var regions []string
	for r := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	return regions
}

// TestNormalizeHandPicked covers real numbers of more than 30 countries, as
// people type them, with the E.164 form or the reason they are blocked.
func TestNormalizeHandPicked(t *testing.T) {
	cases := []struct {
		raw, region string
		want        string // E.164 when callable
		reason      string // BlockedError reason when blocked
	}{
		{raw: "030 901820", region: "DE", want: "+4930901820"},
		{raw: "0151 12345678", region: "DE", want: "+4915112345678"},
		{raw: "+49 151 1234 5678", region: "", want: "+4915112345678"},
		{raw: "0049 151 12345678", region: "DE", want: "+4915112345678"},
		{raw: "112", region: "DE", reason: ReasonEmergency},
		{raw: "110", region: "DE", reason: ReasonEmergency},
		{raw: "0900 1234567", region: "DE", reason: ReasonPremiumRate},
		{raw: "+49 900 1234567", region: "", reason: ReasonPremiumRate},
		{raw: "0800 1234567890", region: "de", reason: ReasonTollFree},
		{raw: "0180 12345", region: "DE", reason: ReasonSharedCost},
		{raw: "(201) 555-0123", region: "US", want: "+12015550123"},
		{raw: "911", region: "US", reason: ReasonEmergency},
		{raw: "+1 900 234 5678", region: "", reason: ReasonPremiumRate},
		{raw: "1-800-234-5678", region: "US", reason: ReasonTollFree},
		{raw: "911", region: "CA", reason: ReasonEmergency},
		{raw: "020 7946 0018", region: "GB", want: "+442079460018"},
		{raw: "07400 123456", region: "GB", want: "+447400123456"},
		{raw: "999", region: "GB", reason: ReasonEmergency},
		{raw: "+44 800 123 4567", region: "", reason: ReasonTollFree},
		{raw: "0901 234 5678", region: "GB", reason: ReasonPremiumRate},
		{raw: "01 23 45 67 89", region: "FR", want: "+33123456789"},
		{raw: "06 12 34 56 78", region: "FR", want: "+33612345678"},
		{raw: "15", region: "FR", reason: ReasonEmergency},
		{raw: "17", region: "FR", reason: ReasonEmergency},
		{raw: "0891 12 34 56", region: "FR", reason: ReasonPremiumRate},
		{raw: "000", region: "AU", reason: ReasonEmergency},
		{raw: "110", region: "JP", reason: ReasonEmergency},
		{raw: "119", region: "JP", reason: ReasonEmergency},
		{raw: "0120 123 456", region: "JP", reason: ReasonTollFree},
		{raw: "100", region: "IN", reason: ReasonEmergency},
		{raw: "190", region: "BR", reason: ReasonEmergency},
		{raw: "110", region: "CN", reason: ReasonEmergency},
		{raw: "112", region: "RU", reason: ReasonEmergency},
		{raw: "111", region: "NZ", reason: ReasonEmergency},
		{raw: "10111", region: "ZA", reason: ReasonEmergency},
		{raw: "113", region: "IT", reason: ReasonEmergency},
		{raw: "112", region: "ES", reason: ReasonEmergency},
		{raw: "112", region: "NL", reason: ReasonEmergency},
		{raw: "112", region: "SE", reason: ReasonEmergency},
		{raw: "113", region: "NO", reason: ReasonEmergency},
		{raw: "144", region: "CH", reason: ReasonEmergency},
		{raw: "133", region: "AT", reason: ReasonEmergency},
		{raw: "997", region: "PL", reason: ReasonEmergency},
		{raw: "911", region: "MX", reason: ReasonEmergency},
		{raw: "911", region: "AR", reason: ReasonEmergency},
		{raw: "119", region: "KR", reason: ReasonEmergency},
		{raw: "100", region: "IL", reason: ReasonEmergency},
		{raw: "112", region: "TR", reason: ReasonEmergency},
		{raw: "999", region: "HK", reason: ReasonEmergency},
		{raw: "995", region: "SG", reason: ReasonEmergency},
		{raw: "911", region: "PH", reason: ReasonEmergency},
		{raw: "112", region: "IE", reason: ReasonEmergency},
		{raw: "112", region: "UA", reason: ReasonEmergency},
		{raw: "191", region: "TH", reason: ReasonEmergency},
	}
	countries := map[string]bool{}
	for _, c := range cases {
		t.Run(c.region+"/"+c.raw, func(t *testing.T) {
			got, err := Normalize(c.raw, c.region)
			if c.reason != "" {
				if reason := blockedReason(t, err); reason != c.reason {
					t.Fatalf("Normalize(%q, %q) = %q, %v; want blocked with reason %q", c.raw, c.region, got, err, c.reason)
				}
				if got != "" {
					t.Errorf("Normalize returned %q with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize(%q, %q) failed: %v", c.raw, c.region, err)
			}
			if got != c.want {
				t.Errorf("Normalize(%q, %q) = %q, want %q", c.raw, c.region, got, c.want)
			}
		})
		if c.region != "" {
			countries[strings.ToUpper(c.region)] = true
		}
	}
	if len(countries) < 30 {
		t.Errorf("hand-picked cases cover %d countries, want at least 30", len(countries))
	}
}

func TestNormalizeRejectsInvalid(t *testing.T) {
	cases := []struct{ raw, region string }{
		{"", "DE"},
		{"   ", "DE"},
		{"not a number", "DE"},
		{"0151 1234", "DE"},           // too short
		{"+49 151 1234567890123", ""}, // too long
		{"030 901820", ""},            // no country code and no region
		{"+999 1234567", ""},          // unknown calling code
		{"030 901820", "XX"},          // unknown region
	}
	for _, c := range cases {
		assertRejected(t, c.raw, c.region)
	}
}

// assertRejected checks that Normalize rejects raw with an error that wraps
// ErrInvalidNumber, and returns that error (nil when there was none).
func assertRejected(t *testing.T, raw, region string) error {
	t.Helper()
	got, err := Normalize(raw, region)
	if err == nil {
		t.Errorf("Normalize(%q, %q) = %q, want an error", raw, region, got)
		return nil
	}
	if !errors.Is(err, ErrInvalidNumber) {
		t.Errorf("Normalize(%q, %q) error %v does not wrap ErrInvalidNumber", raw, region, err)
	}
	return err
}

func TestNormalizeRejectsExtension(t *testing.T) {
	cases := []struct{ raw, region string }{
		{"+12025550101 ext 5", ""},
		{"+1 202-555-0101 ext. 5", ""},
		{"+12025550101;ext=5", ""},
		{"(202) 555-0101 x5", "US"},
		{"+49 30 901820 extension 12", ""},
	}
	for _, c := range cases {
		err := assertRejected(t, c.raw, c.region)
		if err != nil && !strings.Contains(err.Error(), "extension") {
			t.Errorf("Normalize(%q, %q) error %q does not mention the extension", c.raw, c.region, err)
		}
	}
}

// TestCheckExampleNumbersEveryRegion runs the library's example number of
// every type in every region it has metadata for through Check.
func TestCheckExampleNumbersEveryRegion(t *testing.T) {
	wantReason := map[phonenumbers.PhoneNumberType]string{
		phonenumbers.FIXED_LINE:           "",
		phonenumbers.MOBILE:               "",
		phonenumbers.FIXED_LINE_OR_MOBILE: "",
		phonenumbers.VOIP:                 "",
		phonenumbers.TOLL_FREE:            ReasonTollFree,
		phonenumbers.PREMIUM_RATE:         ReasonPremiumRate,
		phonenumbers.SHARED_COST:          ReasonSharedCost,
		phonenumbers.UAN:                  ReasonUAN,
		phonenumbers.VOICEMAIL:            ReasonVoicemail,
		phonenumbers.PAGER:                ReasonPager,
		phonenumbers.PERSONAL_NUMBER:      ReasonPersonal,
	}
	tested := map[phonenumbers.PhoneNumberType]int{}
	for _, region := range sortedRegions() {
		for typ := phonenumbers.FIXED_LINE; typ < phonenumbers.UNKNOWN; typ++ {
			num := phonenumbers.GetExampleNumberForType(region, typ)
			if num == nil {
				continue
			}
			// The example of one type can fall into another type's range,
			// because NANP fixed-line numbers are FIXED_LINE_OR_MOBILE. The
			// number is judged by the type the library gives it.
			actual := phonenumbers.GetNumberType(num)
			want, ok := wantReason[actual]
			if !ok {
				continue
			}
			e164 := phonenumbers.Format(num, phonenumbers.E164)
			if got := blockedReason(t, Check(e164)); got != want {
				t.Errorf("%s example %s of type %d: Check reason %q, want %q", region, Mask(e164), actual, got, want)
			}
			tested[actual]++
		}
	}
	for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.MOBILE, phonenumbers.FIXED_LINE, phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST} {
		if tested[typ] < 30 {
			t.Errorf("only %d regions have an example of type %d, want at least 30", tested[typ], typ)
		}
	}
}

// TestEmergencyNumbersEveryRegion checks the example emergency number of
// every region with short-number metadata, dialed nationally and with the
// country code in front.
func TestEmergencyNumbersEveryRegion(t *testing.T) {
	collection, err := phonenumbers.ShortNumberMetadataCollection()
	if err != nil {
		t.Fatalf("loading short-number metadata: %v", err)
	}
	tested := 0
	for _, md := range collection.GetMetadata() {
		region := md.GetId()
		example := md.GetEmergency().GetExampleNumber()
		if example == "" || !phonenumbers.GetSupportedRegions()[region] {
			continue
		}
		if _, err := Normalize(example, region); blockedReason(t, err) != ReasonEmergency {
			t.Errorf("Normalize(%q, %q) error %v, want blocked as emergency", example, region, err)
		}
		withCode := "+" + strconv.Itoa(phonenumbers.GetCountryCodeForRegion(region)) + example
		if reason := blockedReason(t, Check(withCode)); reason != ReasonEmergency {
			t.Errorf("Check(%q) reason %q, want emergency", withCode, reason)
		}
		tested++
	}
	if tested < 200 {
		t.Errorf("tested emergency numbers of %d regions, want at least 200", tested)
	}
}

func TestCheckRejectsNonCanonical(t *testing.T) {
	for _, in := range []string{"", "4915112345678", "+49 151 12345678", "+49-151-12345678", "+49015112345678", "tel:+4915112345678"} {
		if reason := blockedReason(t, Check(in)); reason != ReasonInvalid {
			t.Errorf("Check(%q) reason %q, want invalid", in, reason)
		}
	}
	if err := Check("+4915112345678"); err != nil {
		t.Errorf("Check of a German mobile number: %v", err)
	}
}

func TestShortCodeBlocked(t *testing.T) {
	// 11833 is a German directory-enquiry short number.
	if reason := blockedReason(t, Check("+4911833")); reason != ReasonShortCode {
		t.Errorf("Check(+4911833) reason %q, want short_code", reason)
	}
	if _, err := Normalize("11833", "DE"); blockedReason(t, err) != ReasonShortCode {
		t.Errorf("Normalize(11833, DE) error %v, want blocked as short_code", err)
	}
}

func TestBlockedErrorHidesNumber(t *testing.T) {
	err := Check("+499001234567")
	if err == nil {
		t.Fatal("Check allowed a premium-rate number")
	}
	if strings.Contains(err.Error(), "9001234567") {
		t.Errorf("error message %q contains the full number", err)
	}
}

func TestMask(t *testing.T) {
	cases := []struct{ in, want string }{
		{"+4915112345678", "+49151****678"},
		{"+14155550123", "+1415****123"},
		{"+447400123456", "+44740****456"},
		{"+35312345678", "+3531****678"}, // three-digit code, kept prefix shrinks
		{"+4930901820", "+493****820"},
		{"+123456", "+****"},
		{"", "+****"},
		{"abc", "+****"},
		{"+49 (151) 1234-5678", "+49151****678"},
	}
	for _, c := range cases {
		if got := Mask(c.in); got != c.want {
			t.Errorf("Mask(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMaskHidesAtLeastFourDigits(t *testing.T) {
	for _, region := range sortedRegions() {
		num := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
		if num == nil {
			continue
		}
		e164 := phonenumbers.Format(num, phonenumbers.E164)
		masked := Mask(e164)
		shown := 0
		for _, c := range masked {
			if c >= '0' && c <= '9' {
				shown++
			}
		}
		if hidden := len(e164) - 1 - shown; hidden < 4 && shown > 0 {
			t.Errorf("Mask(%s) = %s hides %d digits, want at least 4", e164, masked, hidden)
		}
	}
}

func TestCheckConcurrent(t *testing.T) {
	numbers := []string{"+4915112345678", "+499001234567", "+12015550123", "+18002345678"}
	done := make(chan error, 8*len(numbers))
	for range 8 {
		go func() {
			for _, n := range numbers {
				done <- Check(n)
			}
		}()
	}
	blocked := 0
	for range 8 * len(numbers) {
		if err := <-done; err != nil {
			blocked++
		}
	}
	if blocked != 8*2 {
		t.Errorf("%d checks blocked, want %d (two blocked numbers, eight goroutines)", blocked, 8*2)
	}
}

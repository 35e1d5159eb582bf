package engine

import "testing"

func TestNormalizePhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+49 151 1234 5678", "+4915112345678"},
		{"0049-151-12345678", "+4915112345678"},
		{"(555) 123-4567", "5551234567"},
		{"+1 (555) 123-4567", "+15551234567"},
		{"+0 123", "0123"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := NormalizePhone(tc.in); got != tc.want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

package store

import "testing"

func TestValidFeedID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"1700000000000-0", true},
		{"0-0", true},
		{"18446744073709551615-18446744073709551615", true},
		// Past 64 bits Redis answers an error: such an id is a reset,
		// not a 503 (issue 17).
		{"18446744073709551616-0", false},
		{"1-18446744073709551616", false},
		{"99999999999999999999-0", false},
		{"01-0", false},
		{"1-", false},
		{"-1", false},
		{"1", false},
		{"1-0-0", false},
		{"+1-0", false},
		{"1-0 ", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidFeedID(tt.id); got != tt.want {
			t.Errorf("ValidFeedID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

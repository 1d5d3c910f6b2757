package apps

// ValidationError says which input field is wrong and why. The admin API
// answers it with 400, the dashboard shows it next to the field, the CLI
// prints it.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// ConflictError is a change that contradicts the current state (409).
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return e.Reason }

// truncate keeps caller-supplied text in an error message short.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// ForbiddenError is a change the actor may not make (403): delegated
// administration reaching past its own owner, scopes or lifetime. Rule
// names the rule broken, for the log and for tests.
type ForbiddenError struct {
	Rule   string
	Reason string
}

func (e *ForbiddenError) Error() string { return e.Reason }

// firstError unwraps errors.Join's result to its first error, so a
// caller's errors.As sees one refusal and its message names one rule.
func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if list := j.Unwrap(); len(list) > 0 {
			return list[0]
		}
	}
	return err
}

package trackplan

import (
	"errors"
	"strings"
)

// Sentinel errors shared by every package. Adapters translate driver and HTTP
// errors into these at their boundary.
var (
	// ErrNotFound means the requested entity does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the operation collides with existing state.
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized means a credential (write key, signature, token) was
	// missing or wrong.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrTooLarge means an input exceeded a size limit.
	ErrTooLarge = errors.New("too large")
	// ErrOverloaded means the service cannot take more work right now; the
	// caller should retry later.
	ErrOverloaded = errors.New("overloaded")
)

// FieldError is one problem with one field of an input (a config file, a
// plan, a request body). Field is a path such as `events[3].properties[0].min`.
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// ValidationError collects the FieldErrors of one input. It is the one typed
// validation error of the module.
type ValidationError struct {
	Problems []FieldError
}

// Add records a problem with field.
func (e *ValidationError) Add(field, format string) {
	e.Problems = append(e.Problems, FieldError{Field: field, Message: format})
}

// Err returns e when it holds problems and nil otherwise.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Problems) == 0 {
		return nil
	}
	return e
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return strings.Join(parts, "; ")
}

package engine

import (
	"errors"

	"github.com/facematch/facematch/models/decode"
)

// photoError translates the decoder's errors into the service's kinds at the boundary, so that
// the API maps engine errors alone: a photo over a limit is ErrTooLarge, one in no known format
// ErrUnsupported, one empty, cut short or corrupt ErrMalformed, and one too costly to decode
// (a JPEG of too many scans) ErrInvalid. Other errors pass unchanged.
func photoError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, decode.ErrTooLarge), errors.Is(err, decode.ErrTooManyPixels):
		return withKind(ErrTooLarge, err)
	case errors.Is(err, decode.ErrUnsupportedFormat):
		return withKind(ErrUnsupported, err)
	case errors.Is(err, decode.ErrEmpty), errors.Is(err, decode.ErrTruncated), errors.Is(err, decode.ErrCorrupt):
		return withKind(ErrMalformed, err)
	case errors.Is(err, decode.ErrTooCostly):
		return withKind(ErrInvalid, err)
	}
	return err
}

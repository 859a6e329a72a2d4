package store_test

import "time"

// now is a fixed, microsecond-precise clock: PostgreSQL keeps microseconds.
var now = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

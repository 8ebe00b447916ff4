// Package browsertest runs the dashboard page of package dashboard in a
// real browser: headless Chromium (internal/headless), driven over the
// DevTools protocol, loads /dashboard from a three-member cluster and
// from a secure mesh on loopback and reads what the page shows.
//
// The package holds tests only; without Chromium they fail, never skip.
// The tests write screenshots at 1280×800 and at a phone's 390×844 into a
// temporary directory, or into $HAPPNER_WRITE_SCREENSHOTS when it is set
// (the images in docs/ are made so).
package browsertest

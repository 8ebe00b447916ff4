// Package browsertest runs the browser clients of package webclient in a
// real browser: headless Chromium, driven over the DevTools protocol by
// github.com/chromedp/chromedp, loads pages served by real happn servers
// and meshes on loopback and runs the clients against them.
//
// The package holds tests only. Chromium is looked up as $HAPPNER_CHROMIUM,
// then chromium, chromium-browser, google-chrome and google-chrome-stable
// on the PATH; without it the tests fail (scripts/test-all.sh installs
// Debian's chromium package when it is missing).
package browsertest

package webclient_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/happner-go/happner/webclient"
)

// Serving the mesh client from any http.ServeMux. Every happn server
// serves /browser_client and every mesh /api/client already; this is for
// other servers that want to hand the clients to their pages.
func Example() {
	mux := http.NewServeMux()
	mux.Handle(webclient.APIClientPath, webclient.APIClient())
	mux.Handle(webclient.BrowserClientPath, webclient.BrowserClient())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res, err := http.Get(srv.URL + webclient.APIClientPath) // Go's client asks for gzip
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))

	// a browser that holds the script asks again with its ETag
	req, _ := http.NewRequest(http.MethodGet, srv.URL+webclient.APIClientPath, nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	again.Body.Close()
	fmt.Println(again.StatusCode)
	// Output:
	// 200 text/javascript max-age=0
	// 304
}

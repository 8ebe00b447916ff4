// Package webclient holds the browser clients a happner-go node serves to
// web pages, written for this project in plain JavaScript and embedded in
// the binary:
//
//   - [BrowserClientPath] (/browser_client): the happn client. It defines
//     window.HappnClient, with HappnClient.create({config: {host, port,
//     protocol, username, password}}) and the data API of the npm happn-3
//     client (set, get, count, remove, on, once, off, offPath, publish,
//     increment, login, disconnect), talking the happn_4 protocol over a
//     WebSocket to /primus and answering the primus heartbeat itself.
//   - [APIClientPath] (/api/client): the happn client followed by the mesh
//     clients. It defines window.MeshClient and window.Happner.{MeshClient,
//     HappnerClient, LightHappnerClient} with the behaviour of the npm
//     happner-2 MeshClient and happner-client: login, client.exchange,
//     client.event, client.data, reconnection with re-subscription.
//
// Each [Asset] is prepared once — its ETag computed and a gzip copy made —
// and served by [Asset.ServeHTTP] with happner's headers: Content-Type
// text/javascript, Cache-Control max-age=0, an ETag answered with 304 Not
// Modified, and Content-Encoding gzip when the request accepts it. More
// assets (a page, a stylesheet) are made with [NewAsset].
//
// The package imports nothing from the rest of the module: the happn server
// mounts [BrowserClient] and the mesh mounts [APIClient]. Both paths are
// served without a session token on secure nodes, since a page needs the
// client before it can log in.
package webclient

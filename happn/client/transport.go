package client

import (
	"context"
	"time"

	"github.com/gorilla/websocket"
)

// Transport carries the client's frames (JSON text messages) to a server
// and back. The client uses a websocket to Options.URL by default; a
// server in the same process can offer a Transport with no socket (see
// happn.Server.ConnectLocal) through Options.Dial.
type Transport interface {
	// ReadFrame blocks until the next frame from the server arrives, and
	// fails once the transport is closed or broken.
	ReadFrame() ([]byte, error)
	// WriteFrame sends one frame; calls are serialised by the client.
	WriteFrame(frame []byte) error
	// Alive tells the transport that the server has just shown it is alive
	// (a heartbeat): a socket transport extends its read deadline.
	Alive()
	// CloseGracefully says goodbye to the server (a websocket close frame);
	// Close then releases the transport.
	CloseGracefully()
	// Close releases the transport; a blocked ReadFrame returns an error.
	Close() error
}

// DialFunc opens a Transport (Options.Dial).
type DialFunc func(ctx context.Context) (Transport, error)

// wsTransport is the websocket Transport.
type wsTransport struct {
	ws          *websocket.Conn
	hc          *holdConn // the websocket's connection; nil when not dialed here
	pingTimeout time.Duration
	callTimeout time.Duration
}

func (t *wsTransport) ReadFrame() ([]byte, error) {
	for {
		mt, b, err := t.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		if mt == websocket.TextMessage {
			return b, nil
		}
	}
}

func (t *wsTransport) WriteFrame(b []byte) error {
	_ = t.ws.SetWriteDeadline(time.Now().Add(t.callTimeout))
	return t.ws.WriteMessage(websocket.TextMessage, b)
}

func (t *wsTransport) Alive() { _ = t.ws.SetReadDeadline(time.Now().Add(t.pingTimeout)) }

func (t *wsTransport) CloseGracefully() {
	_ = t.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}

func (t *wsTransport) Close() error { return t.ws.Close() }

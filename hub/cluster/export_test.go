package cluster

import (
	"net/http"
	"strconv"
	"time"
)

// SignInternalRequest signs r for the internal API the way a node does,
// with the HMAC key derived from gossipKey.
func SignInternalRequest(r *http.Request, gossipKey, body []byte) {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	r.Header.Set(headerTimestamp, ts)
	r.Header.Set(headerSignature, signature(deriveAuthKey(gossipKey), r.Method, r.URL.Path, ts, body))
}

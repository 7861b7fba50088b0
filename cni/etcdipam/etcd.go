package etcdipam

import (
	"context"
	"encoding/json"
	"fmt"

	"corral/cni/etcdrpc"
)

// etcdClient speaks etcd's v3 API through its JSON gateway (/v3/kv/…, on
// every client URL by default), by way of an etcdrpc.Caller: in the
// binary, the helper process (see etcdrpc). etcd's gRPC client would add
// its package initialisation (protobuf descriptors, gRPC, zap: ~10 ms,
// measured) to every ADD and DEL, although most of them never reach etcd.
type etcdClient struct {
	c etcdrpc.Caller
}

// close ends the caller's connections.
func (c *etcdClient) close() { c.c.Close() }

// keyValue is a key as etcd returns it.
type keyValue struct {
	Key            []byte `json:"key"`
	Value          []byte `json:"value"`
	CreateRevision int64  `json:"create_revision,string"`
	ModRevision    int64  `json:"mod_revision,string"`
}

type responseHeader struct {
	Revision int64 `json:"revision,string"`
}

type rangeResponse struct {
	Header responseHeader `json:"header"`
	Kvs    []keyValue     `json:"kvs"`
}

// get reads key, or with end the keys in [key, end).
func (c *etcdClient) get(ctx context.Context, key, end string) ([]keyValue, error) {
	req := map[string]any{"key": []byte(key)}
	if end != "" {
		req["range_end"] = []byte(end)
	}
	var resp rangeResponse
	if err := c.call(ctx, "/v3/kv/range", req, &resp); err != nil {
		return nil, err
	}
	return resp.Kvs, nil
}

// cmp is one compare of a transaction.
type cmp map[string]any

// absent compares that no key in [key, end) exists, or key alone when end
// is empty.
func absent(key, end string) cmp {
	c := cmp{"key": []byte(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
	if end != "" {
		c["range_end"] = []byte(end)
	}
	return c
}

// created compares that key exists with the given create revision: the
// same claim, not one deleted and made again.
func created(key string, rev int64) cmp {
	return cmp{"key": []byte(key), "target": "CREATE", "result": "EQUAL", "create_revision": fmt.Sprint(rev)}
}

// op is one operation of a transaction.
type op map[string]any

func opPut(key string, value []byte) op {
	return op{"request_put": map[string]any{"key": []byte(key), "value": value}}
}

func opDelete(key string) op {
	return op{"request_delete_range": map[string]any{"key": []byte(key)}}
}

// txn commits "if every compare holds then ops" and reports whether they
// held and the revision of the commit.
func (c *etcdClient) txn(ctx context.Context, cmps []cmp, ops []op) (bool, int64, error) {
	var resp struct {
		Header    responseHeader `json:"header"`
		Succeeded bool           `json:"succeeded"`
	}
	if err := c.call(ctx, "/v3/kv/txn", map[string]any{"compare": cmps, "success": ops}, &resp); err != nil {
		return false, 0, err
	}
	return resp.Succeeded, resp.Header.Revision, nil
}

// call posts req to path and decodes etcd's answer into resp.
func (c *etcdClient) call(ctx context.Context, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	data, err := c.c.Call(ctx, path, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return fmt.Errorf("decoding etcd's answer to %s: %w", path, err)
	}
	return nil
}

package cfapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/option"
)

// opSpec describes one API operation for retries, logs and errors.
type opSpec struct {
	name   string // lower-case, e.g. "upload hostname certificate"
	method string
	path   string // template below the base URL, for messages
	perm   string // permission group the call needs
	// idempotent calls are re-sent after a 5xx or a lost answer. Others are
	// re-sent only after landed reports that the first attempt had no effect.
	idempotent bool
	landed     func(ctx context.Context) (bool, error)
	// limit is the kind a "limit exceeded" answer maps to for this call.
	limit Kind
}

// envelope is Cloudflare's response wrapper. cfapi decodes it itself
// (through option.WithResponseBodyInto) rather than using the SDK's result
// structs, which drop fields aopwizard needs (serial_number on zone
// certificates, enabled:null, association fields on list results).
type envelope[T any] struct {
	Success    bool          `json:"success"`
	Errors     []cfMessage   `json:"errors"`
	Messages   []cfMessage   `json:"messages"`
	Result     T             `json:"result"`
	ResultInfo *cfResultInfo `json:"result_info"`
}

type cfMessage struct {
	Code       int         `json:"code"`
	Message    string      `json:"message"`
	ErrorChain []cfMessage `json:"error_chain"`
}

type cfResultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

// attempt is one HTTP exchange. Its middleware records what the SDK does
// not surface uniformly: the status of non-JSON error pages, headers
// (Retry-After) and the error body.
type attempt struct {
	c      *SDKClient
	op     *opSpec
	n      int
	sent   bool // the request reached the HTTP client
	status int
	header http.Header
	body   []byte // error bodies only
}

const maxErrorBody = 64 << 10

// maxAnswer bounds a successful answer: the largest aopwizard asks for (a
// page of certificates or of hostname associations) is well under 1 MiB,
// so more is a broken proxy or endpoint, not data, and must not fill the
// memory.
const maxAnswer = 16 << 20

// ErrAnswerTooLarge is a Cloudflare answer past maxAnswer.
var ErrAnswerTooLarge = fmt.Errorf("the answer is larger than %d MiB, far more than any Cloudflare answer aopwizard asks for: check the API base URL and any proxy in between", maxAnswer>>20)

// cappedBody reads at most maxAnswer bytes, then fails.
type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Exactly maxAnswer bytes is still an answer.
		if n, err := b.ReadCloser.Read(make([]byte, 1)); n == 0 && err != nil {
			return 0, err
		}
		return 0, ErrAnswerTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

func (a *attempt) middleware(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	start := time.Now()
	a.sent = true
	res, err := next(req)
	if res != nil {
		a.status, a.header = res.StatusCode, res.Header
		if res.StatusCode >= 400 {
			// Keep the body for error mapping and hand the SDK a fresh copy.
			b, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
			_ = res.Body.Close()
			a.body = b
			res.Body = io.NopCloser(bytes.NewReader(b))
		} else {
			res.Body = &cappedBody{ReadCloser: res.Body, left: maxAnswer}
		}
	}
	a.c.cfg.Logger.LogAttrs(req.Context(), slog.LevelDebug, "cloudflare api call",
		slog.String("op", a.op.name), slog.String("method", req.Method), slog.String("path", req.URL.Path),
		slog.Int("attempt", a.n), slog.Int("status", a.status), slog.Duration("duration", time.Since(start)))
	return res, err
}

// opts are the per-attempt SDK options: our middleware and decoding into dst.
func (a *attempt) opts(dst any) []option.RequestOption {
	return []option.RequestOption{option.WithMiddleware(a.middleware), option.WithResponseBodyInto(dst)}
}

// raw sends a request the SDK has no method for, through the same HTTP
// client, credentials and middleware, and decodes the answer into dst.
func (a *attempt) raw(ctx context.Context, method, path string, query url.Values, dst any) error {
	u := a.c.cfg.BaseURL + strings.TrimPrefix(path, "/")
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range a.c.authHeaders() {
		req.Header.Set(k, v)
	}
	res, err := a.middleware(req, a.c.cfg.HTTPClient.Do)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode >= 400 {
		return errHTTPStatus
	}
	return json.Unmarshal(b, dst)
}

var errHTTPStatus = errors.New("http error status")

// call runs send with cfapi's retry policy and returns the decoded result.
// send must issue exactly one request, passing at.opts(env) to the SDK.
func call[T any](ctx context.Context, c *SDKClient, op *opSpec, send func(ctx context.Context, at *attempt, env *envelope[T]) error) (T, *cfResultInfo, error) {
	var env envelope[T]
	err := c.do(ctx, op, func(ctx context.Context, at *attempt) error {
		env = envelope[T]{}
		return send(ctx, at, &env)
	}, func() (bool, []cfMessage) { return !env.Success, env.Errors })
	return env.Result, env.ResultInfo, err
}

// errAlreadyGone tells call's caller that a DELETE re-sent after a lost
// answer found nothing: the first attempt deleted it.
var errAlreadyGone = errors.New("deleted by an earlier attempt")

// errLanded tells call's caller that a non-idempotent request had taken
// effect although its answer was lost; the caller fetches the result.
var errLanded = errors.New("request took effect before its answer was lost")

// do runs one operation: 429s are retried up to Config.RateLimitRetries
// times honouring Retry-After within Config.MaxRateLimitWait; 5xx answers
// and transport errors up to Config.MaxAttempts attempts with jittered
// exponential backoff; everything else fails at once as an *APIError.
// failed reports envelope errors of a 2xx answer with success:false.
func (c *SDKClient) do(ctx context.Context, op *opSpec, send func(context.Context, *attempt) error, failed func() (bool, []cfMessage)) error {
	var rateWaited time.Duration
	rateRetries, failures := 0, 0
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return c.wrapErr(op, "", err)
		}
		at := &attempt{c: c, op: op, n: n}
		actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		err := send(actx, at)
		cancel()
		if err == nil {
			if bad, errs := failed(); bad {
				return c.apiError(op, at.status, errs)
			}
			return nil
		}
		if ctx.Err() != nil {
			return c.wrapErr(op, "", ctx.Err())
		}
		switch {
		case !at.sent:
			// The SDK refused to build the request (a missing ID): nothing
			// to retry.
			return c.wrapErr(op, "", err)
		case at.status == http.StatusTooManyRequests:
			ae := c.errorFromAttempt(op, at)
			wait, ok := retryAfter(at.header, time.Now())
			if !ok {
				wait = c.backoff(rateRetries + 1)
			}
			ae.RetryAfter = wait
			if rateRetries >= c.cfg.RateLimitRetries || rateWaited+wait > c.cfg.MaxRateLimitWait {
				return ae
			}
			rateRetries++
			rateWaited += wait
			c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "cloudflare rate limit, waiting",
				slog.String("op", op.name), slog.Duration("retry_after", wait))
			if err := c.cfg.Sleep(ctx, wait); err != nil {
				return c.wrapErr(op, "waiting out the rate limit", err)
			}
		case at.status >= 500 || at.status == 0:
			failures++
			last := failures >= c.cfg.MaxAttempts
			if !last {
				d := c.backoff(failures)
				c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "cloudflare call failed, retrying", slog.String("op", op.name),
					slog.Int("status", at.status), slog.String("error", c.redact(err.Error())), slog.Duration("backoff", d))
				if err := c.cfg.Sleep(ctx, d); err != nil {
					return c.wrapErr(op, "waiting to retry", err)
				}
			}
			if !op.idempotent && op.landed != nil {
				// The request may have been applied before the failure (a
				// reset after commit): re-sending would duplicate it, and
				// after the last attempt it may still have succeeded.
				done, lerr := op.landed(ctx)
				switch {
				case lerr == nil && done:
					return errLanded
				case lerr != nil && !last:
					return c.wrapErr(op, "the outcome of the first attempt is unknown and checking it failed", lerr)
				}
			}
			if last {
				if at.status == 0 {
					return c.wrapErr(op, fmt.Sprintf("no answer after %d attempts", failures), err)
				}
				return c.errorFromAttempt(op, at)
			}
		case at.status < 400:
			return c.wrapErr(op, "unexpected answer from Cloudflare", err)
		case at.status == http.StatusNotFound && op.method == http.MethodDelete && failures > 0:
			return errAlreadyGone
		default:
			return c.errorFromAttempt(op, at)
		}
	}
}

// backoff is the delay before retry k (1-based): BackoffBase doubling,
// with jitter in [d/2, d] so parallel clients spread out.
func (c *SDKClient) backoff(k int) time.Duration {
	d := c.cfg.BackoffBase << min(k-1, 6)
	return d/2 + rand.N(d/2+1)
}

// errorFromAttempt builds the *APIError for a failed HTTP answer.
func (c *SDKClient) errorFromAttempt(op *opSpec, at *attempt) *APIError {
	var env envelope[json.RawMessage]
	var msgs []cfMessage
	if json.Unmarshal(at.body, &env) == nil {
		msgs = env.Errors
	}
	return c.apiError(op, at.status, msgs)
}

func (c *SDKClient) apiError(op *opSpec, status int, msgs []cfMessage) *APIError {
	e := &APIError{Op: op.name, Method: op.method, Path: op.path, Status: status, Permission: op.perm}
	var walk func([]cfMessage)
	walk = func(ms []cfMessage) {
		for _, m := range ms {
			e.Codes = append(e.Codes, m.Code)
			e.Messages = append(e.Messages, c.redact(m.Message))
			walk(m.ErrorChain)
		}
	}
	walk(msgs)
	e.Kind = classify(op, status, e.Codes, e.Messages)
	c.explain(e)
	return e
}

func (c *SDKClient) wrapErr(op *opSpec, what string, err error) error {
	msg := op.name
	if what != "" {
		msg += ": " + what
	}
	return &redactedError{msg: c.redact(msg + ": " + err.Error()), err: err}
}

// redact removes credentials from text that may echo them (API messages,
// transport errors).
func (c *SDKClient) redact(s string) string {
	for _, secret := range c.secrets {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}

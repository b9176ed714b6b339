// Package notify sends hoist's deploy notifications to Slack, DingTalk and
// generic webhooks.
//
// Where notifications go is the worker's business, never a deploy spec's:
// the worker is started with `--notify-config FILE`, which names each
// destination and says where its URL and secret are read from, and
// hoist.yml only refers to those names:
//
//	notify:
//	  - to: ops-slack
//	    on: [started, awaiting_approval, failed, rolled_back, succeeded]
//
// A spec naming a notifier the worker does not have is refused (see
// [Set.CheckNames]), so no spec can make a worker post to a URL of its
// choosing.
//
// # The notify config file
//
//	notifiers:
//	  ops-slack:
//	    type: slack
//	    url_file: /etc/hoist/slack-url        # or url_env: NAME, or url: "https://..."
//	  ops-dingtalk:
//	    type: dingtalk
//	    url_file: /etc/hoist/dingtalk-url
//	    secret_file: /etc/hoist/dingtalk-secret   # or secret_env: NAME; optional
//	  ci:
//	    type: webhook
//	    url: "https://ci.example/hooks/hoist"
//	    hmac_secret_file: /etc/hoist/ci-hmac     # or hmac_secret_env: NAME; optional
//
// The file holds one key, notifiers, mapping each notifier's name
// ([a-z0-9][a-z0-9_-]*) to its settings:
//
//   - type: slack, dingtalk or webhook.
//   - url, url_file or url_env, exactly one: the URL itself, a file holding
//     it, or a variable of the worker's environment holding it. It must be
//     http or https with a host. Slack and DingTalk URLs carry the token
//     that lets anyone post, so prefer url_file or url_env for them.
//   - secret_file or secret_env (dingtalk only, optional): the robot's
//     "additional signature" secret (SEC...). Without it the robot must be
//     secured by keyword or IP; every message contains the word "hoist", a
//     keyword that always matches.
//   - hmac_secret_file or hmac_secret_env (webhook only, optional): the key
//     each body is signed with.
//
// Relative files are relative to the config file's folder. Files and
// variables are read once, when the worker loads the config, and one
// trailing newline (\n or \r\n, or several) is dropped; a missing or empty
// file, or an unset variable, stops the worker with an error naming the
// notifier and the file or variable. A rotated URL or secret therefore
// needs a worker restart. Unknown keys, repeated names and settings that do
// not fit the type are errors reported as FILE:LINE.
//
// URLs and secrets are held as [Secret] values, which print as
// [redacted]; no error, log line or String() of this package shows them.
//
// # What is sent
//
// Each [Message] becomes one HTTP POST of JSON (Content-Type
// application/json). The pure builders [SlackRequest], [DingTalkRequest]
// and [WebhookRequest] decide the exact bytes; [Sender] only sends them.
//
//   - slack: an incoming webhook payload {"text": "..."}; the text lists
//     event, service, environment, version, hosts, outcome, cause (when
//     set) and url, one per line.
//   - dingtalk: a custom robot markdown message {"msgtype": "markdown",
//     "markdown": {"title": "...", "text": "..."}} listing the same fields.
//     With a secret, the query gets timestamp (ms since the epoch) and sign
//     = Base64(HMAC-SHA256(key=secret, timestamp+"\n"+secret)), URL-encoded,
//     as DingTalk documents; DingTalk refuses timestamps more than an hour
//     off, so the worker's clock must be right.
//   - webhook: the JSON object {"event", "service", "environment",
//     "version", "hosts", "outcome", "cause", "url", "key"}, with headers
//     Idempotency-Key: KEY and, with a secret, X-Hoist-Signature:
//     sha256=HEX(HMAC-SHA256(key=secret, body)). Receivers should verify
//     the signature over the raw body and drop repeated keys: a retried
//     send repeats the key.
//
// Slack and DingTalk have no idempotency key, so a send retried after a
// timeout may post twice.
//
// # Failures
//
// A failed send returns an [*Error]. errors.Is(err, [ErrPermanent]) says
// retrying cannot help: an HTTP 4xx other than 408 and 429, a redirect
// (never followed), a DingTalk errcode other than its rate limit, an
// unknown notifier or an invalid message. Network errors, timeouts, 408,
// 429 and 5xx are worth retrying. The error names the notifier and event,
// the HTTP status and at most 200 bytes of the response, with the URL's
// token and the secret cut out.
package notify

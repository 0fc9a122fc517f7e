// Subscribes to a dojoql server over `GET /graphql/ws` with a real client library, for
// tests/it/client_libraries.rs.
//
//     node subscribe.mjs [--expect-refusal] <ws url> <token> <transport|legacy> <query> [<count>]
//
// <transport> speaks `graphql-transport-ws` through the `graphql-ws` library's `createClient`;
// <legacy> speaks the legacy `graphql-ws` subprotocol through `subscriptions-transport-ws`'s
// `SubscriptionClient`. Both send `connectionParams: { Authorization: "Token <token>" }` and use
// the `ws` package as their websocket.
//
// Output:
// - stdout: one JSON line per subscription result, exactly as the library delivered it
//   (`{"data": ...}`); after <count> results the script exits 0.
// - stderr: the line `READY` once the server acknowledged the connection (`connection_ack`).
//   The subscription itself may still be starting on the server then: it is sent together with
//   (legacy) or right after (transport) `connection_init`. Diagnostics also go to stderr.
// - Any error exits 1 after printing it on stderr: a result with `errors`, an error message, the
//   socket closing, the subscription completing early, or no outcome within
//   DOJOQL_CLIENT_TIMEOUT_MS (default 60000).
//
// With --expect-refusal the connection must be refused: the script then prints one JSON line
// `{"refused": {"code": <close code>, "reason": "<close reason>", "message": <legacy
// connection_error message or null>}}` on stdout and exits 0; being acknowledged exits 1.

import { createClient } from "graphql-ws";
import { SubscriptionClient } from "subscriptions-transport-ws";
import WebSocket from "ws";

const USAGE =
    "usage: node subscribe.mjs [--expect-refusal] <ws url> <token> <transport|legacy> <query> [<count>]";

const args = process.argv.slice(2);
const expectRefusal = args[0] === "--expect-refusal";
if (expectRefusal) args.shift();
const [url, token, protocol, query, countArg] = args;
const count = expectRefusal ? 0 : Number(countArg);
if (
    !url ||
    token === undefined ||
    !["transport", "legacy"].includes(protocol) ||
    !query ||
    (!expectRefusal && !(Number.isInteger(count) && count > 0))
) {
    console.error(USAGE);
    process.exit(2);
}

const connectionParams = { Authorization: `Token ${token}` };
let finished = false;
let cleanup = () => {};

/// Exits with `code` once stdout is flushed (only the first call counts).
function finish(code) {
    if (finished) return;
    finished = true;
    try {
        cleanup();
    } catch (e) {
        console.error(`cleanup failed: ${e}`);
    }
    process.stdout.write("", () => process.exit(code));
}

function fail(what, detail) {
    console.error(`error: ${what}${detail === undefined ? "" : `: ${describe(detail)}`}`);
    finish(1);
}

function describe(x) {
    if (x && typeof x === "object" && "code" in x && "reason" in x) {
        return `close code ${x.code} reason ${JSON.stringify(String(x.reason))}`;
    }
    if (x instanceof Error) return x.stack || String(x);
    // The `ws` package's ErrorEvent (`{ type, message, error }`).
    if (x && typeof x === "object" && x.error instanceof Error) return describe(x.error);
    if (x && typeof x === "object" && typeof x.message === "string") return x.message;
    try {
        return JSON.stringify(x);
    } catch {
        return String(x);
    }
}

function ready() {
    if (expectRefusal) {
        fail("the connection was acknowledged, but a refusal was expected");
    } else {
        console.error("READY");
    }
}

function refused(code, reason, message) {
    if (!expectRefusal || finished) return false;
    process.stdout.write(`${JSON.stringify({ refused: { code, reason: String(reason ?? ""), message: message ?? null } })}\n`);
    finish(0);
    return true;
}

let received = 0;
function result(r) {
    if (finished) return;
    if (expectRefusal) {
        fail("received a result, but a refusal was expected", r);
        return;
    }
    if (r && r.errors && r.errors.length) {
        fail("result with errors", r);
        return;
    }
    process.stdout.write(`${JSON.stringify(r)}\n`);
    received += 1;
    if (received >= count) finish(0);
}

const timeoutMs = Number(process.env.DOJOQL_CLIENT_TIMEOUT_MS || 60000);
setTimeout(() => fail(`no outcome within ${timeoutMs} ms (${received} of ${count} results)`), timeoutMs).unref();

if (protocol === "transport") {
    const client = createClient({
        url,
        webSocketImpl: WebSocket,
        connectionParams,
        // A refusal (4403) must surface, not be retried.
        retryAttempts: 0,
        on: {
            connected: ready,
            closed: (event) => {
                if (finished) return;
                if (!refused(event?.code, event?.reason, null)) fail("the socket closed", event);
            },
            error: (e) => {
                if (!finished) fail("websocket error", e);
            },
        },
    });
    const unsubscribe = client.subscribe(
        { query },
        {
            next: result,
            error: (e) => {
                if (finished) return;
                // A refusal arrives here as the CloseEvent too.
                if (!(e && typeof e.code === "number" && refused(e.code, e.reason, null))) {
                    fail("subscription error", e);
                }
            },
            complete: () => fail(`the subscription completed after ${received} of ${count} results`),
        },
    );
    cleanup = () => {
        unsubscribe();
        client.dispose();
    };
} else {
    let connectionError = null;
    const client = new SubscriptionClient(
        url,
        {
            connectionParams,
            reconnect: false,
            // The library gives up on a socket not open within `minTimeout` (default 1 s: tight
            // on a busy test machine), and on one without a keep-alive for `timeout`.
            minTimeout: 30000,
            timeout: 30000,
            // Called with the payload of `connection_error`, and without arguments on the ack.
            connectionCallback: (error) => {
                if (error) {
                    connectionError = error;
                    if (!expectRefusal) console.error(`connection_error: ${describe(error)}`);
                }
            },
        },
        WebSocket,
    );
    // The library never reports the close code: listen on its socket (opened by the
    // constructor) for it.
    const socket = client.client;
    socket.addEventListener("close", (event) => {
        if (finished) return;
        const message = connectionError?.message ?? null;
        if (!refused(event.code, event.reason, message)) fail("the socket closed", event);
    });
    client.onConnected(ready);
    client.onError((e) => {
        if (!finished) fail("websocket error", e);
    });
    const subscription = client.request({ query }).subscribe({
        next: result,
        error: (e) => fail("subscription error", e),
        complete: () => fail(`the subscription completed after ${received} of ${count} results`),
    });
    cleanup = () => {
        subscription.unsubscribe();
        client.close();
    };
}

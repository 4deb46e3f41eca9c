// One SignalR connection per hub, made on first use and shared by every module that asks for the
// same hub: the frame player (/hubs/runs, /hubs/watch) and the 2-D lab (/hubs/toy).
// MessagePack carries frames as raw bytes; reconnects are automatic.
// The SignalR client files are UMD bundles: imported for their side effect, they set self.signalR,
// so only the pages that import this module load them.
import '../lib/signalr/signalr.min.js';
import '../lib/signalr/signalr-protocol-msgpack.min.js';

const signalR = self.signalR;
const hubs = new Map();

/// A connected HubConnection to `url` (relative to the page's base address), shared.
export function connect(url) {
  let hub = hubs.get(url);
  if (!hub) {
    hub = { connection: null, starting: null };
    hubs.set(url, hub);
  }
  if (hub.connection && hub.connection.state === signalR.HubConnectionState.Connected) return Promise.resolve(hub.connection);
  if (!hub.starting) {
    if (!hub.connection) hub.connection = open(url);
    const { connection } = hub;
    hub.starting = (connection.state === signalR.HubConnectionState.Disconnected ? connection.start() : waitForReconnect(connection))
      .then(() => connection)
      .finally(() => { hub.starting = null; });
  }
  return hub.starting;
}

/// A connection of its own to `url`, not started and not shared: for a page that joins a group
/// (the watch page), whose messages must not reach anyone else on a shared connection.
export function open(url) {
  return new signalR.HubConnectionBuilder()
    .withUrl(url)
    .withHubProtocol(new signalR.protocols.msgpack.MessagePackHubProtocol())
    .withAutomaticReconnect()
    .configureLogging(signalR.LogLevel.Warning)
    .build();
}

/// The server's message from a HubException, without SignalR's wrapping ("An unexpected error ... HubException: ").
export function hubMessage(error) {
  return String(error && error.message ? error.message : error).replace(/^.*HubException: /, '');
}

function waitForReconnect(connection) {
  return new Promise((resolve, reject) => {
    connection.onreconnected(() => resolve());
    connection.onclose(error => reject(error || new Error('The connection to the lab closed.')));
  });
}

// One SignalR connection per hub, made on first use and shared by whoever asks again:
// the lab's frame player (/hubs/runs) and the 2-D lab (/hubs/toy) both connect this way.
// MessagePack carries frames as raw bytes; reconnects are automatic.
window.diffusionLabHub = function (url) {
  let connection = null;
  let starting = null;
  return function connect() {
    if (connection && connection.state === signalR.HubConnectionState.Connected) return Promise.resolve(connection);
    if (!starting) {
      connection = new signalR.HubConnectionBuilder()
        .withUrl(url)
        .withHubProtocol(new signalR.protocols.msgpack.MessagePackHubProtocol())
        .withAutomaticReconnect()
        .configureLogging(signalR.LogLevel.Warning)
        .build();
      starting = connection.start().then(() => connection).finally(() => { starting = null; });
    }
    return starting;
  };
};

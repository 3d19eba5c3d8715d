// A real @tars/rpc client calling a tarsmon servant with the NodeTars interface
// (`int getUsrName(string sUsrName, out string sValue1, out string sValue2)`).
// Usage: node rpc_client.js PORT — prints one JSON line per case, then "done".
const Tars = require("@tars/rpc");
const T = require("@tars/stream");
const NodeTars = require("@tars/rpc/examples/rpc-tars/demo.1/client.node.proxy/NodeTarsProxy").tars;

const port = process.argv[2];
// One object string per protocol version: @tars/rpc caches the underlying ObjectProxy by this
// string and fixes a connection's protocol when it connects.
const obj = version => `TARS.NodeTarsServer.NodeTarsObj@tcp -h 127.0.0.1 -p ${port} -t ${60000 + version}`;
const out = (name, value) => console.log(JSON.stringify({ case: name, ...value }));
// Generated proxies reject with {response: {error}}, raw tars_invoke with an RpcCallError {error}.
const err = e => {
  const error = (e && e.response && e.response.error) || (e && e.error);
  return { error: error ? error.code : String(e && e.message || e) };
};

function proxy(version) {
  const prx = Tars.client.stringToProxy(NodeTars.NodeTarsProxy, obj(version));
  prx._worker.version = version;
  return prx;
}

function tupCall(version, func, name) {
  const attr = new T.UniAttribute();
  attr.tupVersion = version;
  if (name !== undefined) attr.writeString("sUsrName", name);
  return proxy(version)._worker.tup_invoke(func, attr).then(r => {
    const tup = r.response.tup;
    return { ret: tup.readInt32(""), sValue1: tup.readString("sValue1"), sValue2: tup.readString("sValue2") };
  });
}

(async () => {
  const v1 = proxy(1);
  await v1.getUsrName("czzou").then(
    r => out("tars", { ret: r.response.return, ...r.response.arguments }),
    e => out("tars", err(e)));
  await v1._worker.tars_invoke("noSuchFunc", new T.TarsOutputStream().getBinBuffer()).then(
    r => out("tars_nofunc", { ret: r.response.iRet }),
    e => out("tars_nofunc", err(e)));
  await tupCall(3, "getUsrName", "czzou").then(r => out("tup3", r), e => out("tup3", err(e)));
  await tupCall(2, "getUsrName", "czzou").then(r => out("tup2", r), e => out("tup2", err(e)));
  await tupCall(3, "noSuchFunc", "x").then(r => out("tup3_nofunc", r), e => out("tup3_nofunc", err(e)));
  // Oneway: the promise rejects locally ("one way call do not need response"); the server
  // must run it and send nothing back.
  await v1.getUsrName("oneway", { packetType: 1 }).then(() => out("oneway", { sent: true }), () => out("oneway", { sent: true }));
  // A normal call after the oneway one must get its own reply.
  await v1.getUsrName("after").then(
    r => out("after_oneway", { ret: r.response.return, ...r.response.arguments }),
    e => out("after_oneway", err(e)));
  console.log("done");
  process.exit(0);
})();

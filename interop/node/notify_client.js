// Calls tars.tarsnotify.NotifyObj with the real @tars/stream encoding, as TarsCpp's
// RemoteNotify (reportNotifyInfo) and older clients (reportServer, notifyServer,
// getNotifyInfo) do.
// Usage: node notify_client.js PORT METHOD JSON
//   reportNotifyInfo {"type":0,"app":"A","set":"","container":"","server":"S","message":"m",
//                     "thread":"1","level":0,"node":""}
//   reportServer     {"name":"A.S","thread":"1","message":"m"}
//   notifyServer     {"name":"A.S","level":2,"message":"m"}
//   getNotifyInfo    {"name":"AS","ip":"127.0.0.1","page":0}
const Tars = require("@tars/rpc");
const T = require("@tars/stream");
const QueryF = require("@tars/registry/QueryFProxy").tars;

const [port, method, json] = process.argv.slice(2);
const a = JSON.parse(json);

function ReportInfo() {}
ReportInfo.prototype._writeTo = function (os) {
  os.writeInt32(1, a.type);
  os.writeString(2, a.app);
  os.writeString(3, a.set);
  os.writeString(4, a.container);
  os.writeString(5, a.server);
  os.writeString(6, a.message);
  os.writeString(7, a.thread || "");
  os.writeInt32(8, a.level || 0);
  os.writeString(9, a.node || "");
};
function NotifyKey() {}
NotifyKey.prototype._writeTo = function (os) {
  os.writeString(1, a.name); os.writeString(2, a.ip); os.writeInt32(3, a.page);
};
function NotifyItem() {}
NotifyItem._readFrom = function (is) {
  return {
    time: is.readString(1, true, ""), serverId: is.readString(2, true, ""),
    level: is.readInt32(3, true, 0), message: is.readString(4, true, ""),
  };
};
NotifyItem._read = (is, tag, def) => is.readStruct(tag, true, NotifyItem);
function NotifyInfo() {}
NotifyInfo._readFrom = function (is) {
  return { nextpage: is.readInt32(1, true, 0), items: is.readList(2, true, T.List(NotifyItem)).toObject() };
};

const os = new T.TarsOutputStream();
switch (method) {
  case "reportNotifyInfo": os.writeStruct(1, new ReportInfo()); break;
  case "reportServer": os.writeString(1, a.name); os.writeString(2, a.thread); os.writeString(3, a.message); break;
  case "notifyServer": os.writeString(1, a.name); os.writeInt32(2, a.level); os.writeString(3, a.message); break;
  case "getNotifyInfo": os.writeStruct(1, new NotifyKey()); break;
  default: console.log(JSON.stringify({ error: "unknown method " + method })); process.exit(2);
}
const prx = Tars.client.stringToProxy(QueryF.QueryFProxy, `tars.tarsnotify.NotifyObj@tcp -h 127.0.0.1 -p ${port} -t 10000`);
prx._worker.tars_invoke(method, os.getBinBuffer()).then(data => {
  const out = { ok: true };
  if (method === "getNotifyInfo") {
    const is = new T.TarsInputStream(data.response.sBuffer);
    out.ret = is.readInt32(0, true);
    out.info = is.readStruct(2, true, NotifyInfo);
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}, e => { console.log(JSON.stringify({ error: String(e && e.message || e) })); process.exit(1); });

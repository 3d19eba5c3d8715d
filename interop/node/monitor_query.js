// TarsWeb's service-monitor query, encoded with @tars/stream and sent with @tars/rpc to
// tars.tarsquerystat.QueryObj, as TarsWeb's MonitorQueryProxy does (req@1, out rsp@2).
// With DATAID=tars_property in the environment, TarsWeb's property-monitor query instead
// (indexs ["value"], sent to tars.tarsqueryproperty.QueryObj).
// Usage: node monitor_query.js PORT DATE GROUPBY(comma-separated) [FIELD=VALUE ...]
const Tars = require("@tars/rpc");
const T = require("@tars/stream");
const QueryF = require("@tars/registry/QueryFProxy").tars;

const [port, date, groupby, ...conds] = process.argv.slice(2);
const dataid = process.env.DATAID || "tars_stat";
const property = dataid === "tars_property";
const indexs = property ? ["value"] : ["succ_count", "timeout_count", "exce_count", "total_time"];
const object = property ? "tars.tarsqueryproperty.QueryObj" : "tars.tarsquerystat.QueryObj";

function Condition(field, op, val) { this.field = field; this.op = op; this.val = val; }
Condition._classname = "tars.Condition";
Condition._write = (os, tag, v) => os.writeStruct(tag, v);
Condition._read = (is, tag, def) => is.readStruct(tag, true, def);
Condition.prototype._writeTo = function (os) {
  os.writeString(0, this.field); os.writeInt32(1, this.op); os.writeString(2, this.val);
};

function Req() {}
Req.prototype._writeTo = function (os) {
  os.writeString(0, "node-" + process.pid);
  os.writeString(1, "query");
  os.writeString(2, dataid);
  os.writeString(3, date);
  os.writeString(4, "0000");
  os.writeString(5, "2360");
  const cl = new T.List(Condition);
  for (const c of conds) { const [f, v] = c.split("="); cl.push(new Condition(f, 5, v)); }
  os.writeList(6, cl);
  const idx = new T.List(T.String);
  indexs.forEach(s => idx.push(s));
  os.writeList(7, idx);
  const gb = new T.List(T.String);
  groupby.split(",").forEach(s => gb.push(s));
  os.writeList(8, gb);
};

function Rsp() {}
Rsp._readFrom = function (is) {
  const r = new Rsp();
  r.ret = is.readInt32(0, true, 0);
  r.msg = is.readString(1, false, "");
  r.lastTime = is.readString(2, true, "");
  r.activeDb = is.readInt32(3, true, 0);
  r.totalDb = is.readInt32(4, true, 0);
  r.retThreads = is.readList(5, true, T.List(T.Int32)).toObject();
  r.result = is.readMap(6, false, T.Map(T.String, T.List(T.Double))).toObject();
  return r;
};

const prx = Tars.client.stringToProxy(QueryF.QueryFProxy, `${object}@tcp -h 127.0.0.1 -p ${port} -t 60000`);
const os = new T.TarsOutputStream();
os.writeStruct(1, new Req());
prx._worker.tars_invoke("query", os.getBinBuffer()).then(data => {
  const is = new T.TarsInputStream(data.response.sBuffer);
  const ret = is.readInt32(0, true);
  const rsp = is.readStruct(2, true, Rsp);
  console.log(JSON.stringify({ ret, rsp }));
  process.exit(0);
}, e => { console.log(JSON.stringify({ error: String(e && e.message || e) })); process.exit(1); });

// Sends one reportPropMsg to tars.tarsproperty.PropertyObj with the real @tars/stream encoding
// (@tars/monitor's generated PropertyFProxy), so tests can send exactly the value strings
// TarsCpp, Node or tarsproperty itself produce.
// Usage: node property_report.js PORT JSON
//   JSON = [{"module": "App.Server", "property": "queue", "set": ["", "", ""],
//            "ver": 2, "info": [["Avg", "12.5"], ["Distr", "5|1,10|2,max|0"]]}, ...]
const Tars = require("@tars/rpc");
const T = require("@tars/stream");
const PropertyF = require("@tars/monitor/property/PropertyFProxy").tars;

const [port, json] = process.argv.slice(2);
const statmsg = new T.Map(PropertyF.StatPropMsgHead, PropertyF.StatPropMsgBody);
for (const e of JSON.parse(json)) {
  const head = new PropertyF.StatPropMsgHead();
  head.moduleName = e.module;
  head.ip = e.ip || "";
  head.propertyName = e.property;
  [head.setName, head.setArea, head.setID] = e.set || ["", "", ""];
  head.iPropertyVer = e.ver || 1;
  const body = new PropertyF.StatPropMsgBody();
  for (const [policy, value] of e.info) {
    const info = new PropertyF.StatPropInfo();
    info.policy = policy;
    info.value = value;
    body.vInfo.push(info);
  }
  statmsg.put(head, body);
}
const prx = Tars.client.stringToProxy(PropertyF.PropertyFProxy, `tars.tarsproperty.PropertyObj@tcp -h 127.0.0.1 -p ${port} -t 10000`);
prx.reportPropMsg(statmsg).then(r => {
  console.log(JSON.stringify({ ret: r.response.return }));
  process.exit(0);
}, e => { console.log(JSON.stringify({ error: String(e && e.message || e) })); process.exit(1); });

// A real @tars/monitor property reporter, configured with only a locator and
// `property = tars.tarsproperty.PropertyObj` (resolved through it). It reports the values
// given, under each of the six policies, then waits for the report to go out and exits.
// Usage: node property_client.js REGISTRY_PORT VALUE...
const fs = require("fs");
const os = require("os");
const path = require("path");

const [port, ...values] = process.argv.slice(2);
const conf = `<tars>
  <application>
    <client>
      locator = tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p ${port}
      property = tars.tarsproperty.PropertyObj
      modulename = Test.NodeProps
      report-interval = 1000
    </client>
    <server>
      localip = 127.0.0.1
    </server>
  </application>
</tars>
`;
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tarsmon-property-")), "client.conf");
fs.writeFileSync(file, conf);
process.env.TARS_CONFIG = file;

const property = require("@tars/monitor").property;
const P = property.POLICY;
property.init(file);
const obj = property.create("latency", [
  new P.Sum(), new P.Count(), new P.Max(), new P.Min(), new P.Avg(), new P.Distr([10, 100, 1000]),
]);
for (const v of values) obj.report(parseFloat(v));
console.log(JSON.stringify({ reported: values.length }));
// The report goes out report-interval after the first value.
setTimeout(() => { console.log(JSON.stringify({ done: true })); process.exit(0); }, 3000);

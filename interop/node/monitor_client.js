// A real @tars/rpc client with @tars/monitor's automatic call statistics (TARS_MONITOR set),
// configured with only a locator and `stat = tars.tarsstat.StatObj` (resolved through it).
// It calls QueryObj.findObjectById N times, waits for the 10-second stat report, and exits.
// Usage: node monitor_client.js REGISTRY_PORT N
const fs = require("fs");
const os = require("os");
const path = require("path");

const [port, n] = [process.argv[2], parseInt(process.argv[3], 10)];
const conf = `<tars>
  <application>
    <client>
      locator = tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p ${port}
      stat = tars.tarsstat.StatObj
      modulename = Test.NodeClient
      report-interval = 10000
      async-invoke-timeout = 3000
    </client>
    <server>
      localip = 127.0.0.1
    </server>
  </application>
</tars>
`;
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tarsmon-monitor-")), "client.conf");
fs.writeFileSync(file, conf);
// Both must be set before the first call (spec §5.2: TARS_CONFIG avoids a crash in @tars/registry).
process.env.TARS_CONFIG = file;
process.env.TARS_MONITOR = "1";

const Tars = require("@tars/rpc");
const QueryF = require("@tars/registry/QueryFProxy").tars;
Tars.client.initialize(file);
const prx = Tars.client.stringToProxy(QueryF.QueryFProxy, `tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p ${port}`);

(async () => {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const r = await prx.findObjectById("tars.tarsstat.StatObj");
    if (r.response.return.value.length > 0 || r.response.return.length > 0) ok++;
  }
  console.log(JSON.stringify({ calls: n, ok }));
  // @tars/monitor reports 10 s after the first call; leave time for it to go out.
  setTimeout(() => { console.log("done"); process.exit(0); }, 13000);
})().catch(e => { console.log("error", e && e.message || JSON.stringify(e)); process.exit(1); });

// The example NodeTars server shipped inside @tars/rpc, on a port chosen by the caller.
// Usage: node rpc_server.js PORT — prints "ready" once listening.
const fs = require("fs");
const os = require("os");
const path = require("path");
const Tars = require("@tars/rpc");
const Imp = require("@tars/rpc/examples/rpc-tars/demo.1/server.node.1/NodeTarsImp.js").tars;

const port = process.argv[2];
const conf = `<tars>
  <application>
    <server>
      app=TARS
      server=NodeTarsServer
      localip=127.0.0.1
      <TARS.NodeTarsServer.NodeTarsObjAdapter>
        allow
        endpoint=tcp -h 127.0.0.1 -p ${port} -t 60000
        maxconns=1000
        protocol=tars
        queuecap=10000
        queuetimeout=60000
        servant=TARS.NodeTarsServer.NodeTarsObj
        threads=1
      </TARS.NodeTarsServer.NodeTarsObjAdapter>
    </server>
    <client>
      stat=tars.tarsstat.StatObj@tcp -h 127.0.0.1 -p 9
      property=tars.tarsproperty.PropertyObj@tcp -h 127.0.0.1 -p 9
    </client>
  </application>
</tars>
`;
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tarsmon-node-")), "server.conf");
fs.writeFileSync(file, conf);
const svr = new Tars.server();
svr.initialize(file, server => {
  server.addServant(Imp.NodeTarsImp, "TARS.NodeTarsServer.NodeTarsObj");
});
svr.start();
setTimeout(() => console.log("ready"), 300);

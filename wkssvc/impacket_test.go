package wkssvc

import (
	"context"
	"encoding/json"
	"github.com/wkssvcd/wkssvcd/internal/testenv"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// impacketPython is the interpreter that can import impacket here.
const impacketPython = "/usr/bin/python3"

// impacketScript binds over ncacn_ip_tcp with impacket's DCE/RPC
// transport and prints one JSON line with the answers.
const impacketScript = `
import json, sys
from impacket.dcerpc.v5 import transport, wkst
from impacket.dcerpc.v5.rpcrt import DCERPCException

binding, max_frag = sys.argv[1], int(sys.argv[2])
t = transport.DCERPCTransportFactory(binding)
dce = t.get_dce_rpc()
dce.connect()
if max_frag:
    dce.set_max_fragment_size(max_frag)
dce.bind(wkst.MSRPC_UUID_WKST)
out = {}
for level in (100, 101, 102, 502):
    try:
        r = wkst.hNetrWkstaGetInfo(dce, level)
        info = r['WkstaInfo']['WkstaInfo%d' % level]
        if level == 502:
            out[str(level)] = {'keep_conn': info['wki502_keep_conn']}
        else:
            out[str(level)] = {
                'platform': info['wki%d_platform_id' % level],
                'name': info['wki%d_computername' % level][:-1],
                'langroup': info['wki%d_langroup' % level][:-1],
                'major': info['wki%d_ver_major' % level],
                'minor': info['wki%d_ver_minor' % level],
            }
    except DCERPCException as e:
        out[str(level)] = {'error': e.get_error_code()}
try:
    r = wkst.hNetrGetJoinInformation(dce, 'x\x00')
    out['join'] = {'name': r['NameBuffer'][:-1], 'type': r['BufferType']}
except DCERPCException as e:
    out['join'] = {'error': e.get_error_code()}
dce.disconnect()
print(json.dumps(out))
`

func runImpacket(t *testing.T, binding, maxFrag string) map[string]map[string]any {
	t.Helper()
	testenv.Impacket(t, "impacket.dcerpc.v5.wkst")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, impacketPython, "-c", impacketScript, binding, maxFrag)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("impacket: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res map[string]map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("impacket output: %v\n%s", err, out)
	}
	return res
}

// impacket's binding syntax is ncacn_ip_tcp:HOST[PORT], like go-msrpc's.
func TestImpacketClient(t *testing.T) {
	binding := serveTCP(t, testConfig(), userIdentity)
	for _, frag := range []string{"0", "8"} {
		// "8" makes impacket split every request stub into 8-byte fragments,
		// exercising reassembly.
		res := runImpacket(t, binding, frag)
		for _, level := range []string{"100", "101"} {
			r := res[level]
			if r["error"] != nil || r["name"] != "WKHOST" || r["langroup"] != "EXAMPLE" ||
				r["platform"] != 500.0 || r["major"] != 10.0 || r["minor"] != 0.0 {
				t.Errorf("frag %s level %s = %v", frag, level, r)
			}
		}
		for _, level := range []string{"102", "502"} {
			if res[level]["error"] != float64(errAccessDenied) {
				t.Errorf("frag %s level %s as user = %v", frag, level, res[level])
			}
		}
		if j := res["join"]; j["name"] != "EXAMPLE" || j["type"] != 3.0 {
			t.Errorf("frag %s GetJoinInformation = %v", frag, j)
		}
	}
}

func TestImpacketClientAdmin(t *testing.T) {
	res := runImpacket(t, serveTCP(t, testConfig(), adminIdentity), "0")
	if res["502"]["keep_conn"] != 600.0 {
		t.Errorf("level 502 as admin = %v", res["502"])
	}
}

func TestImpacketClientAnonymous(t *testing.T) {
	res := runImpacket(t, serveTCP(t, testConfig(), anonIdentity), "0")
	for _, k := range []string{"100", "101", "102", "502", "join"} {
		if res[k]["error"] != float64(errAccessDenied) {
			t.Errorf("anonymous %s = %v", k, res[k])
		}
	}
}

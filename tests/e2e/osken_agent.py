#!/usr/bin/python3
"""The neutron OVS agent's OpenFlow 1.3 side, as an os-ken controller.

Drives a switch the way neutron's native of_interface does
(neutron/plugins/ml2/drivers/openvswitch/agent/openflow/native/: an os-ken
app speaking only OpenFlow 1.3, every request sent through os-ken's ofctl
service, which follows it with a BARRIER_REQUEST and turns an OFPT_ERROR
for its xid into an exception): see shared/compat/compat-openflow.md
sections 1-3.

    /usr/bin/python3 osken_agent.py --port PORT [--probe-wait SECONDS]

Listens on 127.0.0.1:PORT; the bridges br-int and br-eth0 (joined by the
patch ports int-br-eth0 / phy-br-eth0) are expected to be told to connect to
it (ovs-vsctl set-controller) by whoever started this. ovs-vsctl, with the
caller's OVS_RUNDIR, gives the datapath ids and ofports, as OVSDB gives them
to the agent.

Prints one line per check, "CHECK <name> ok" or "CHECK <name> FAIL <why>",
then "SUMMARY pass=<n> fail=<m>"; exits 0 when nothing failed.
"""

import argparse
import os
import random
import subprocess
import sys
import time

from os_ken.lib import hub

hub.patch()  # the agent runs monkey-patched eventlet, as neutron does

from os_ken import cfg as os_ken_cfg  # noqa: E402
from os_ken.app.ofctl import api as ofctl_api  # noqa: E402
from os_ken.app.ofctl import exception as ofctl_exc  # noqa: E402
from os_ken.base import app_manager  # noqa: E402
from os_ken.controller import handler, ofp_event  # noqa: E402
from os_ken.ofproto import ofproto_v1_3 as ofp  # noqa: E402
from os_ken.ofproto import ofproto_v1_3_parser as ofpp  # noqa: E402

# neutron_lib/plugins/ml2/ovs_constants.py
LOCAL_SWITCHING = 0
CANARY_TABLE = 23
ARP_SPOOF_TABLE = 24
MAC_SPOOF_TABLE = 25
LOCAL_EGRESS_TABLE = 30
LOCAL_IP_TABLE = 31
PACKET_RATE_LIMIT = 59
TRANSIENT_TABLE = 60
TRANSIENT_EGRESS_TABLE = 62
INT_BR_ALL_TABLES = [0, 1, 2, 3, 4, 23, 24, 25, 30, 31, 59, 60, 61, 62,
                     71, 72, 73, 77, 78, 81, 82, 91, 92, 93, 94]
PHY_BR_ALL_TABLES = [0, 1, 2, 3]
DEAD_VLAN_TAG = 4095
OPENFLOW_MAX_PRIORITY = 65535
UINT64_BITMASK = (1 << 64) - 1
REQUEST_TIMEOUT = 10  # seconds; the agent's of_request_timeout is 300

ARGS = None
RESULTS = []


def check(name, ok, why=''):
    RESULTS.append((name, bool(ok)))
    print('CHECK %s %s%s' % (name, 'ok' if ok else 'FAIL', '' if ok else ' ' + str(why)),
          flush=True)
    return ok


def vsctl(*args):
    out = subprocess.run(['ovs-vsctl', '--timeout=10'] + list(args), check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return out.stdout.strip()


def inst_bytes(insts):
    """Instructions as they go on the wire, for comparing sent and dumped."""
    buf = bytearray()
    for i in insts:
        i.serialize(buf, len(buf))
    return bytes(buf)


def match_dict(m):
    return dict(m.items())


class Bridge:
    """One switch as the agent sees it: a dpid, a default cookie, and the
    helpers of neutron's OpenFlowSwitchMixin (ofswitch.py)."""

    def __init__(self, app, name):
        self.app = app
        self.name = name
        self.dpid = int(vsctl('get', 'Bridge', name, 'datapath_id').strip('"'), 16)
        self.cookie = random.getrandbits(64)  # ovs_lib.generate_random_cookie
        self.dp = None
        self.installed = []  # (table, priority, match, instructions, cookie)

    def wait_datapath(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            dp = ofctl_api.get_datapath(self.app, self.dpid)
            if dp is not None:
                self.dp = dp
                return dp
            hub.sleep(0.2)
        return None

    def send(self, msg, reply_cls=None, reply_multi=False):
        with hub.Timeout(REQUEST_TIMEOUT):
            return ofctl_api.send_msg(self.app, msg, reply_cls, reply_multi)

    def install(self, instructions, table_id=0, priority=0, match=None, cookie=None,
                record=True, **match_kwargs):
        match = match or ofpp.OFPMatch(**match_kwargs)
        cookie = self.cookie if cookie is None else cookie
        self.send(ofpp.OFPFlowMod(self.dp, table_id=table_id, cookie=cookie, match=match,
                                  priority=priority, instructions=instructions))
        if record:
            self.installed.append((table_id, priority, match, instructions, cookie))

    def install_drop(self, table_id=0, priority=0, **kw):
        self.install([], table_id=table_id, priority=priority, **kw)

    def install_goto(self, dest_table_id, table_id=0, priority=0, **kw):
        self.install([ofpp.OFPInstructionGotoTable(table_id=dest_table_id)],
                     table_id=table_id, priority=priority, **kw)

    def install_normal(self, table_id=0, priority=0, **kw):
        self.install_apply(table_id, priority, [ofpp.OFPActionOutput(ofp.OFPP_NORMAL, 0)], **kw)

    def install_apply(self, table_id, priority, actions, **kw):
        self.install([ofpp.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)],
                     table_id=table_id, priority=priority, **kw)

    def uninstall(self, table_id=ofp.OFPTT_ALL, strict=False, priority=0, cookie=None,
                  cookie_mask=UINT64_BITMASK, **match_kwargs):
        cookie = self.cookie if cookie is None else cookie
        self.send(ofpp.OFPFlowMod(
            self.dp, command=ofp.OFPFC_DELETE_STRICT if strict else ofp.OFPFC_DELETE,
            cookie=cookie, cookie_mask=cookie_mask, table_id=table_id,
            match=ofpp.OFPMatch(**match_kwargs), priority=priority,
            out_group=ofp.OFPG_ANY, out_port=ofp.OFPP_ANY))

    def dump(self, table_id=ofp.OFPTT_ALL, cookie=0, cookie_mask=0):
        replies = self.send(ofpp.OFPFlowStatsRequest(self.dp, table_id=table_id, cookie=cookie,
                                                     cookie_mask=cookie_mask),
                            reply_cls=ofpp.OFPFlowStatsReply, reply_multi=True)
        self.last_dump_parts = len(replies)
        flows = []
        for r in replies:
            flows += r.body
        return flows


def find(flows, table_id, priority, match):
    want = match_dict(match)
    return [f for f in flows
            if f.table_id == table_id and f.priority == priority and match_dict(f.match) == want]


def compare_dump(br, flows, entries):
    """Every recorded flow is in the dump once, with its instructions and
    cookie; returns the problems."""
    bad = []
    for (table, prio, match, insts, cookie) in entries:
        got = find(flows, table, prio, match)
        tag = 'table=%d,priority=%d,%s' % (table, prio, match_dict(match))
        if len(got) != 1:
            bad.append('%s: %d in the dump' % (tag, len(got)))
            continue
        f = got[0]
        if f.cookie != cookie:
            bad.append('%s: cookie %#x, sent %#x' % (tag, f.cookie, cookie))
        if inst_bytes(f.instructions) != inst_bytes(insts):
            bad.append('%s: instructions %s, sent %s' % (tag, f.instructions, insts))
    return bad


class AgentApp(app_manager.OSKenApp):
    OFP_VERSIONS = [ofp.OFP_VERSION]  # base_oskenapp.py

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.features = {}     # dpid -> OFPSwitchFeatures
        self.port_status = []  # (dpid, reason, name)
        self.packet_ins = []   # (dpid, OFPPacketIn)
        self.echo_requests = 0
        self.errors = []       # (xid, type, code) of every OFPT_ERROR
        self.expected_error_xids = set()

    def start(self):
        t = super().start()
        hub.spawn(self.scenario_main)
        return t

    @handler.set_ev_cls(ofp_event.EventOFPSwitchFeatures, handler.CONFIG_DISPATCHER)
    def _features(self, ev):
        self.features[ev.msg.datapath_id] = ev.msg

    @handler.set_ev_cls(ofp_event.EventOFPPortStatus, handler.MAIN_DISPATCHER)
    def _port_status(self, ev):
        self.port_status.append((ev.msg.datapath.id, ev.msg.reason, ev.msg.desc.name.decode()))

    @handler.set_ev_cls(ofp_event.EventOFPPacketIn, handler.MAIN_DISPATCHER)
    def _packet_in(self, ev):
        self.packet_ins.append((ev.msg.datapath.id, ev.msg))

    @handler.set_ev_cls(ofp_event.EventOFPEchoRequest,
                        [handler.HANDSHAKE_DISPATCHER, handler.CONFIG_DISPATCHER,
                         handler.MAIN_DISPATCHER])
    def _echo(self, ev):
        self.echo_requests += 1  # os-ken's ofp_handler answers it

    @handler.set_ev_cls(ofp_event.EventOFPErrorMsg,
                        [handler.HANDSHAKE_DISPATCHER, handler.CONFIG_DISPATCHER,
                         handler.MAIN_DISPATCHER])
    def _error(self, ev):
        self.errors.append((ev.msg.xid, ev.msg.type, ev.msg.code))

    def scenario_main(self):
        rc = 1
        # Tell whoever started us that the controller listens (the agent's
        # bridges are pointed at it only then, as neutron does it).
        for _ in range(100):
            with open('/proc/net/tcp') as f:
                if any(l.split()[1].endswith(':%04X' % ARGS.port) and l.split()[3] == '0A'
                       for l in f.readlines()[1:]):
                    break
            hub.sleep(0.1)
        print('READY', flush=True)
        try:
            self.scenario()
        except Exception as e:  # noqa: BLE001 -- reported as a failed check
            import traceback
            traceback.print_exc()
            check('scenario', False, '%s: %s' % (type(e).__name__, e))
        finally:
            npass = sum(1 for _, ok in RESULTS if ok)
            nfail = len(RESULTS) - npass
            print('SUMMARY pass=%d fail=%d' % (npass, nfail), flush=True)
            rc = 0 if nfail == 0 and npass else 1
            sys.stdout.flush()
            os._exit(rc)

    def scenario(self):
        int_br = Bridge(self, 'br-int')
        phys_br = Bridge(self, 'br-eth0')
        int_ofport = int(vsctl('get', 'Interface', 'int-br-eth0', 'ofport'))
        phy_ofport = int(vsctl('get', 'Interface', 'phy-br-eth0', 'ofport'))

        # -- handshake: HELLO (1.3), FEATURES, PORT_DESC; found by dpid, as
        # ovs_bridge.py / ofswitch.py _get_dp find it.
        for br in (int_br, phys_br):
            dp = br.wait_datapath(ARGS.connect_timeout)
            if not check('handshake.%s.datapath' % br.name, dp is not None,
                         'no switch with dpid %016x (OVSDB) connected; connected: %s' %
                         (br.dpid, [d.id for d in ofctl_api.get_datapath(self) or []])):
                return
            check('handshake.%s.version' % br.name, dp.ofproto.OFP_VERSION == 0x04,
                  'negotiated %#x' % dp.ofproto.OFP_VERSION)
            f = self.features.get(br.dpid)
            check('handshake.%s.features' % br.name,
                  f is not None and f.datapath_id == br.dpid and f.n_tables >= 254,
                  f and 'dpid %016x n_tables %d' % (f.datapath_id, f.n_tables))
            # os-ken's ofp_handler fills dp.ports from the PORT_DESC reply
            # before it declares the switch ready.
            ports = {no: p.name.decode() for no, p in dp.ports.items()}
            patch = ('int-br-eth0', int_ofport) if br is int_br else ('phy-br-eth0', phy_ofport)
            check('handshake.%s.port_desc' % br.name,
                  ports.get(ofp.OFPP_LOCAL) == br.name and ports.get(patch[1]) == patch[0],
                  ports)
        # The dpid stays what OVSDB says.
        check('handshake.dpid_stable',
              int(vsctl('get', 'Bridge', 'br-int', 'datapath_id').strip('"'), 16) == int_br.dpid)

        # -- br-int defaults (br_int.py setup_canary_table, setup_default_table).
        # A flow_mod the switch rejects raises here (the agent's RuntimeError)
        # and ends the scenario with a failed check.
        int_br.install_drop(table_id=CANARY_TABLE)
        int_br.install_goto(dest_table_id=PACKET_RATE_LIMIT)
        int_br.install_goto(dest_table_id=TRANSIENT_TABLE, table_id=PACKET_RATE_LIMIT)
        int_br.install_normal(table_id=TRANSIENT_TABLE, priority=3)
        int_br.install_drop(table_id=ARP_SPOOF_TABLE)
        int_br.install_drop(table_id=LOCAL_SWITCHING, priority=OPENFLOW_MAX_PRIORITY,
                            vlan_vid=ofp.OFPVID_PRESENT | DEAD_VLAN_TAG)
        int_br.install_normal(table_id=TRANSIENT_EGRESS_TABLE, priority=3)
        int_br.install_goto(dest_table_id=PACKET_RATE_LIMIT, table_id=LOCAL_EGRESS_TABLE)
        int_br.install_goto(dest_table_id=PACKET_RATE_LIMIT, table_id=LOCAL_IP_TABLE)
        check('install.br-int.defaults', True)
        # br-eth0 default (br_phys.py setup_default_table)
        phys_br.install_normal()
        # drop_port on both patch ports before peering (ovs_bridge.py drop_port)
        int_br.install_drop(table_id=0, priority=2, in_port=int_ofport)
        phys_br.install_drop(table_id=0, priority=2, in_port=phy_ofport)
        check('install.drop_port', True)

        # -- VLAN provisioning: segmentation 2000 <-> local 1; flat <-> local 2
        seg, lvid, flat_lvid = 2000, 1, 2
        phys_br.install_apply(0, 4, [ofpp.OFPActionSetField(vlan_vid=seg | ofp.OFPVID_PRESENT),
                                     ofpp.OFPActionOutput(ofp.OFPP_NORMAL, 0)],
                              in_port=phy_ofport, vlan_vid=lvid | ofp.OFPVID_PRESENT)
        phys_br.install_apply(0, 4, [ofpp.OFPActionPopVlan(),
                                     ofpp.OFPActionOutput(ofp.OFPP_NORMAL, 0)],
                              in_port=phy_ofport, vlan_vid=flat_lvid | ofp.OFPVID_PRESENT)
        int_br.install(
            [ofpp.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS,
                                        [ofpp.OFPActionSetField(vlan_vid=lvid | ofp.OFPVID_PRESENT)]),
             ofpp.OFPInstructionGotoTable(table_id=PACKET_RATE_LIMIT)],
            priority=3, in_port=int_ofport, vlan_vid=seg | ofp.OFPVID_PRESENT)
        int_br.install(
            [ofpp.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS,
                                        [ofpp.OFPActionPushVlan(),
                                         ofpp.OFPActionSetField(vlan_vid=flat_lvid | ofp.OFPVID_PRESENT)]),
             ofpp.OFPInstructionGotoTable(table_id=PACKET_RATE_LIMIT)],
            priority=3, in_port=int_ofport, vlan_vid=ofp.OFPVID_NONE)
        check('install.vlan', True)
        # Anti-spoofing for a VM port (br_int.py install_arp_spoofing_protection
        # and friends, §3.3), with masked matches.
        vm = 7
        int_br.install_goto(dest_table_id=ARP_SPOOF_TABLE, priority=10, eth_type=0x0806,
                            in_port=vm)
        int_br.install_goto(dest_table_id=MAC_SPOOF_TABLE, priority=9, in_port=vm)
        int_br.install_goto(dest_table_id=MAC_SPOOF_TABLE, table_id=ARP_SPOOF_TABLE, priority=2,
                            eth_type=0x0806, arp_spa=('10.0.0.0', '255.255.255.0'), in_port=vm)
        int_br.install_goto(dest_table_id=LOCAL_EGRESS_TABLE, table_id=MAC_SPOOF_TABLE,
                            priority=2, in_port=vm, eth_src='fa:16:3e:00:00:07')
        int_br.install_goto(dest_table_id=PACKET_RATE_LIMIT, table_id=ARP_SPOOF_TABLE,
                            priority=2, eth_type=0x86dd, ip_proto=58, icmpv6_type=136,
                            ipv6_nd_target='fe80::f816:3eff:fe00:7', in_port=vm)
        int_br.install_normal(table_id=TRANSIENT_TABLE, priority=4,
                              eth_dst=('01:00:00:00:00:00', '01:00:00:00:00:00'))
        check('install.anti_spoof', True)
        # An explicit barrier, as ofctl's send_msg does it for a barrier.
        rep = int_br.send(ofpp.OFPBarrierRequest(int_br.dp), reply_cls=ofpp.OFPBarrierReply)
        check('barrier.reply', isinstance(rep, ofpp.OFPBarrierReply), rep)
        # A controller-side echo, and the meter features the QoS extension
        # reads when it loads (extension_drivers/qos_driver.py).
        rep = int_br.send(ofpp.OFPEchoRequest(int_br.dp, data=b'neutron'),
                          reply_cls=ofpp.OFPEchoReply)
        check('echo.reply', rep is not None and rep.data == b'neutron', rep)
        rep = int_br.send(ofpp.OFPMeterFeaturesStatsRequest(int_br.dp, 0),
                          reply_cls=ofpp.OFPMeterFeaturesStatsReply, reply_multi=True)
        check('meter_features', len(rep) == 1 and len(rep[0].body) == 1, rep)

        # -- Dumps: per table with the cookie (and its mask), as the agent's
        # cleanup reads them; everything comes back as sent.
        for br, tables in ((int_br, INT_BR_ALL_TABLES), (phys_br, PHY_BR_ALL_TABLES)):
            problems, seen = [], 0
            for t in tables:
                flows = br.dump(t)
                seen += len(flows)
                problems += compare_dump(br, flows, [e for e in br.installed if e[0] == t])
                problems += ['table %d: %s from table %d' % (t, f, f.table_id)
                             for f in flows if f.table_id != t]
            check('dump.%s.per_table' % br.name, not problems and seen == len(br.installed),
                  '%d flows for %d installed; %s' % (seen, len(br.installed), problems))
            flows = br.dump(cookie=br.cookie, cookie_mask=UINT64_BITMASK)
            check('dump.%s.by_cookie' % br.name,
                  not compare_dump(br, flows, br.installed) and len(flows) == len(br.installed),
                  compare_dump(br, flows, br.installed))
            flows = br.dump(cookie=br.cookie ^ 1, cookie_mask=UINT64_BITMASK)
            check('dump.%s.other_cookie_empty' % br.name, not flows, flows)

        # -- Canary (br_int.py check_canary_table, every rpc_loop).
        flows = int_br.dump(CANARY_TABLE)
        check('canary.present', len(flows) == 1 and flows[0].priority == 0
              and not flows[0].instructions and flows[0].cookie == int_br.cookie, flows)

        # -- Stale cookies (ofswitch.py cleanup_flows): flows of an earlier
        # agent run, found by dumping each table, deleted per cookie on OFPTT_ALL.
        stale = [random.getrandbits(64) | 1, random.getrandbits(64) | 1]
        for i, c in enumerate(stale):
            int_br.install_drop(table_id=0, priority=20 + i, in_port=100 + i, cookie=c, record=False)
            int_br.install_drop(table_id=ARP_SPOOF_TABLE, priority=20 + i, in_port=100 + i,
                                cookie=c, record=False)
            int_br.install_normal(table_id=TRANSIENT_TABLE, priority=20 + i, in_port=100 + i,
                                  cookie=c, record=False)
        cookies = set()
        for t in INT_BR_ALL_TABLES:
            cookies |= {f.cookie for f in int_br.dump(t)}
        check('stale.found', cookies == set(stale) | {int_br.cookie}, cookies)
        for c in cookies - {int_br.cookie}:
            int_br.uninstall(cookie=c)
        flows = int_br.dump()
        check('stale.deleted', {f.cookie for f in flows} == {int_br.cookie}
              and not compare_dump(int_br, flows, int_br.installed)
              and len(flows) == len(int_br.installed), [hex(f.cookie) for f in flows])

        # -- Reclaim the VLAN (br_int.py reclaim_local_vlan: non-strict, own
        # cookie, table ALL, the same match): the priority-2 drop on the same
        # port stays.
        int_br.uninstall(in_port=int_ofport, vlan_vid=seg | ofp.OFPVID_PRESENT)
        gone = [e for e in int_br.installed if e[0] == 0 and e[1] == 3
                and match_dict(e[2]).get('vlan_vid') == seg | ofp.OFPVID_PRESENT]
        int_br.installed = [e for e in int_br.installed if e not in gone]
        flows = int_br.dump()
        check('reclaim.vlan', len(gone) == 1 and len(flows) == len(int_br.installed)
              and not compare_dump(int_br, flows, int_br.installed),
              compare_dump(int_br, flows, int_br.installed))
        # Strict delete of the dead-port drop (ovs_neutron_agent port_bound).
        int_br.uninstall(table_id=0, strict=True, priority=2, in_port=int_ofport)
        flows = int_br.dump(0)
        check('delete_strict', not find(flows, 0, 2, ofpp.OFPMatch(in_port=int_ofport))
              and find(flows, 0, 3, ofpp.OFPMatch(in_port=int_ofport, vlan_vid=ofp.OFPVID_NONE)),
              flows)
        int_br.installed = [e for e in int_br.installed
                            if not (e[0] == 0 and e[1] == 2)]

        # -- Rejected flow_mods: an OFPT_ERROR with the flow_mod's own xid,
        # which os-ken's ofctl turns into OFError (the agent: RuntimeError).
        def expect_error(name, msg, etype, ecode):
            try:
                int_br.send(msg)  # the ofctl service gives it its xid
            except ofctl_exc.OFError as e:
                errs = [r for r in e.result if isinstance(r, ofpp.OFPErrorMsg)]
                self.expected_error_xids.add(msg.xid)
                ok = (len(errs) == 1 and errs[0].xid == msg.xid and errs[0].type == etype
                      and errs[0].code == ecode)
                return check(name, ok, [(r.xid, r.type, r.code) for r in errs] + ['xid %d' % msg.xid])
            return check(name, False, 'accepted')
        expect_error('error.goto_backwards',
                     ofpp.OFPFlowMod(int_br.dp, table_id=TRANSIENT_TABLE, priority=50,
                                     cookie=int_br.cookie, match=ofpp.OFPMatch(in_port=5),
                                     instructions=[ofpp.OFPInstructionGotoTable(table_id=0)]),
                     ofp.OFPET_BAD_INSTRUCTION, ofp.OFPBIC_BAD_TABLE_ID)
        expect_error('error.add_table_all',
                     ofpp.OFPFlowMod(int_br.dp, table_id=ofp.OFPTT_ALL, priority=50,
                                     cookie=int_br.cookie, match=ofpp.OFPMatch(in_port=5),
                                     instructions=[]),
                     ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_BAD_TABLE_ID)
        # OpenFlow 1.1+ set_field on vlan_vid needs a tag the match (or a
        # push_vlan) guarantees; OVS refuses it otherwise.
        expect_error('error.set_vlan_vid_untagged',
                     ofpp.OFPFlowMod(int_br.dp, table_id=0, priority=50, cookie=int_br.cookie,
                                     match=ofpp.OFPMatch(in_port=5),
                                     instructions=[ofpp.OFPInstructionActions(
                                         ofp.OFPIT_APPLY_ACTIONS,
                                         [ofpp.OFPActionSetField(vlan_vid=ofp.OFPVID_PRESENT | 9),
                                          ofpp.OFPActionOutput(ofp.OFPP_NORMAL, 0)])]),
                     ofp.OFPET_BAD_ACTION, ofp.OFPBAC_MATCH_INCONSISTENT)
        flows = int_br.dump()
        check('error.nothing_installed', len(flows) == len(int_br.installed), len(flows))

        # -- The agent re-sends a port's flows on every update: an ADD with
        # the same table, priority and match replaces the flow (cookie and
        # instructions), it does not add a second one.
        m = ofpp.OFPMatch(in_port=vm, eth_src='fa:16:3e:00:00:07')
        newer = random.getrandbits(64)
        int_br.installed = [e for e in int_br.installed
                            if not (e[:2] == (MAC_SPOOF_TABLE, 2) and match_dict(e[2]) == match_dict(m))]
        int_br.install_goto(dest_table_id=TRANSIENT_TABLE, table_id=MAC_SPOOF_TABLE, priority=2,
                            match=m, cookie=newer)
        flows = int_br.dump()
        check('install.readd_replaces', len(flows) == len(int_br.installed)
              and not compare_dump(int_br, flows, int_br.installed),
              compare_dump(int_br, flows, int_br.installed))

        # -- Many flows: a dump over several multipart replies (REPLY_MORE).
        bulk_cookie = random.getrandbits(64)
        for i in range(1500):
            int_br.dp.send_msg(ofpp.OFPFlowMod(
                int_br.dp, table_id=TRANSIENT_EGRESS_TABLE, priority=10, cookie=bulk_cookie,
                match=ofpp.OFPMatch(in_port=1000 + i, vlan_vid=ofp.OFPVID_PRESENT | 3,
                                    eth_dst='fa:16:3e:00:%02x:%02x' % (i >> 8, i & 255)),
                instructions=[ofpp.OFPInstructionActions(
                    ofp.OFPIT_APPLY_ACTIONS,
                    [ofpp.OFPActionSetField(vlan_vid=ofp.OFPVID_PRESENT | 5),
                     ofpp.OFPActionOutput(1000 + i, 0)])]))
        int_br.send(ofpp.OFPBarrierRequest(int_br.dp), reply_cls=ofpp.OFPBarrierReply)
        flows = int_br.dump(TRANSIENT_EGRESS_TABLE, cookie=bulk_cookie, cookie_mask=UINT64_BITMASK)
        check('bulk.multipart', len(flows) == 1500 and int_br.last_dump_parts > 1,
              '%d flows in %d replies' % (len(flows), int_br.last_dump_parts))
        int_br.uninstall(cookie=bulk_cookie)
        check('bulk.deleted', len(int_br.dump()) == len(int_br.installed))

        # -- ONF bundle (ofswitch.py bundled(), OF1.3 EXT-230).
        bid, flags = 7, ofp.ONF_BF_ATOMIC | ofp.ONF_BF_ORDERED
        rep = int_br.send(ofpp.ONFBundleCtrlMsg(int_br.dp, bid, ofp.ONF_BCT_OPEN_REQUEST, flags, []),
                          reply_cls=ofpp.ONFBundleCtrlMsg)
        ok = rep is not None and rep.type == ofp.ONF_BCT_OPEN_REPLY and rep.bundle_id == bid
        bundled = []
        for i in range(3):
            m = ofpp.OFPMatch(in_port=200 + i)
            insts = [ofpp.OFPInstructionGotoTable(table_id=MAC_SPOOF_TABLE)]
            int_br.send(ofpp.ONFBundleAddMsg(int_br.dp, bid, flags, ofpp.OFPFlowMod(
                int_br.dp, table_id=0, priority=11, cookie=int_br.cookie, match=m,
                instructions=insts), []))
            bundled.append((0, 11, m, insts, int_br.cookie))
        before = len(int_br.dump())
        rep2 = int_br.send(ofpp.ONFBundleCtrlMsg(int_br.dp, bid, ofp.ONF_BCT_COMMIT_REQUEST, flags, []),
                           reply_cls=ofpp.ONFBundleCtrlMsg)
        ok = ok and rep2 is not None and rep2.type == ofp.ONF_BCT_COMMIT_REPLY
        int_br.installed += bundled
        flows = int_br.dump()
        check('bundle.commit', ok and before == len(int_br.installed) - 3
              and not compare_dump(int_br, flows, int_br.installed),
              (rep, rep2, before, compare_dump(int_br, flows, int_br.installed)))

        # -- PACKET_OUT and PACKET_IN (a controller that answers frames itself):
        # a flow sends ethertype 0x88b5 to the controller; the app injects
        # such a frame from the controller through the tables (output:TABLE)
        # and gets it back as a packet-in, whole.
        int_br.install_apply(0, 100, [ofpp.OFPActionOutput(ofp.OFPP_CONTROLLER,
                                                           ofp.OFPCML_NO_BUFFER)],
                             eth_type=0x88b5)
        frame = (b'\xff' * 6 + bytes.fromhex('fa163e000009') + b'\x88\xb5' + b'trestle'
                 + bytes(39))
        self.packet_ins.clear()
        int_br.send(ofpp.OFPPacketOut(int_br.dp, buffer_id=ofp.OFP_NO_BUFFER,
                                      in_port=ofp.OFPP_CONTROLLER,
                                      actions=[ofpp.OFPActionOutput(ofp.OFPP_TABLE, 0)],
                                      data=frame))
        deadline = time.time() + 10
        while time.time() < deadline and not self.packet_ins:
            hub.sleep(0.1)
        got = [(d == int_br.dpid, m.reason, m.match.get('in_port'), bytes(m.data))
               for d, m in self.packet_ins]
        check('packet_out.packet_in', got == [(True, ofp.OFPR_ACTION, ofp.OFPP_CONTROLLER, frame)],
              got)

        # -- PORT_STATUS when a port comes and goes (ovs-vsctl add-port/del-port).
        self.port_status.clear()
        vsctl('add-port', 'br-int', 'tap-osken', '--', 'set', 'Interface', 'tap-osken',
              'type=internal')
        ofport = int(vsctl('get', 'Interface', 'tap-osken', 'ofport'))
        deadline = time.time() + 10
        while time.time() < deadline and not any(r == ofp.OFPPR_ADD for _, r, _ in self.port_status):
            hub.sleep(0.1)
        vsctl('del-port', 'br-int', 'tap-osken')
        deadline = time.time() + 10
        while time.time() < deadline and not any(r == ofp.OFPPR_DELETE for _, r, _ in self.port_status):
            hub.sleep(0.1)
        seen = [(d == int_br.dpid, r, n) for d, r, n in self.port_status]
        check('port_status', (True, ofp.OFPPR_ADD, 'tap-osken') in seen
              and (True, ofp.OFPPR_DELETE, 'tap-osken') in seen and ofport > 0, seen)

        # -- Idle past the inactivity probe (10 s): the switch probes, os-ken
        # answers, the connection stays.
        if ARGS.probe_wait > 0:
            hub.sleep(ARGS.probe_wait)
            check('probe.connection_kept',
                  ofctl_api.get_datapath(self, int_br.dpid) is int_br.dp and self.echo_requests > 0,
                  'echo requests %d' % self.echo_requests)

        # -- The controller drops the connection: the switch comes back (backoff),
        # the flows are still there (the canary says "OVS did not restart").
        old = int_br.dp
        old.socket.shutdown(2)
        deadline = time.time() + 20
        dp = None
        while time.time() < deadline:
            dp = ofctl_api.get_datapath(self, int_br.dpid)
            if dp is not None and dp is not old:
                break
            hub.sleep(0.2)
        if check('reconnect', dp is not None and dp is not old, 'no new connection'):
            int_br.dp = dp
            flows = int_br.dump(CANARY_TABLE)
            check('reconnect.canary', len(flows) == 1, flows)
            check('reconnect.flows', len(int_br.dump()) == len(int_br.installed))

        stray = [e for e in self.errors if e[0] not in self.expected_error_xids]
        check('no_stray_errors', not stray, stray)


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--connect-timeout', type=float, default=30)
    p.add_argument('--probe-wait', type=float, default=12)
    p.add_argument('--verbose', action='store_true')
    ARGS = p.parse_args()
    # neutron's native/main.py init_config
    os_ken_cfg.CONF(project='os_ken', args=[])
    os_ken_cfg.CONF.ofp_listen_host = '127.0.0.1'
    os_ken_cfg.CONF.ofp_tcp_listen_port = ARGS.port
    import logging
    logging.basicConfig(level=logging.DEBUG if ARGS.verbose else logging.WARNING,
                        stream=sys.stderr)
    mgr = app_manager.AppManager.get_instance()
    mgr.load_apps([__name__])
    contexts = mgr.create_contexts()
    services = mgr.instantiate_apps(**contexts)
    hub.joinall(services)


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""One ovsdbapp session against an OVSDB server, as neutron and os-vif run it.

usage: ovsdbapp_session.py REMOTE PREFIX VHOST_DIR

REMOTE is an OVSDB connection string (unix:PATH, tcp:IP:PORT). Names made
here start with PREFIX + "-" or "vhu" + PREFIX, and only those are listed
back, so the session ignores whatever else the database holds.

Part 1 is the neutron way (neutron:agent/ovsdb/impl_idl.py builds exactly
this: OvsdbIdl.from_server with every table registered, a Connection with
a timeout, impl_idl.OvsdbIdl): add_br, add_port, db_set external_ids,
db_get, list_br/list_ports, del_port, del_br, each read back. Part 2 is
os-vif's native plug/unplug of a vhost-user VIF (vif_plug_ovs/ovsdb/
ovsdb_lib.py, compat trace 50): an IDL with only Open_vSwitch, Bridge, Port
and Interface registered; one transaction of add_br(may_exist,
datapath_type) + add_port + db_set Interface (external_ids, type,
options:vhost-server-path), a second one setting mtu_request, then
del_port(if_exists).

Prints one JSON object of what was read back; the C++ test asserts on it.
Exit status 1 (traceback on stderr) when any call raised. Every exception
ovsdbapp only logged is listed under "logged_exceptions": ovsdbapp logs,
rather than raises, a transaction whose cur_cfg never caught up with
next_cfg (TimeoutException) and inserted interfaces without an ofport
(VswitchdInterfaceAddException).
"""

import json
import logging
import sys
import time

from ovsdbapp.backend.ovs_idl import connection
from ovsdbapp.schema.open_vswitch import impl_idl


class ExceptionLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.names = []

    def emit(self, record):
        if record.exc_info and record.exc_info[0] is not None:
            self.names.append(record.exc_info[0].__name__)


def ours(prefix, names):
    return sorted(n for n in names if n.startswith(prefix + '-') or n.startswith('vhu' + prefix))


def names(api, table, prefix):
    rows = api.db_list(table, columns=['name']).execute(check_error=True)
    return ours(prefix, (r['name'] for r in rows))


def neutron_session(remote, prefix, out):
    idl = connection.OvsdbIdl.from_server(remote, 'Open_vSwitch')
    conn = connection.Connection(idl, timeout=10)
    api = impl_idl.OvsdbIdl(conn)
    br, port = prefix + '-br', prefix + '-p1'
    try:
        api.add_br(br, datapath_type='netdev').execute(check_error=True)
        api.add_port(br, port).execute(check_error=True)
        api.db_set('Interface', port,
                   ('external_ids', {'iface-id': prefix + '-iface',
                                     'attached-mac': 'fa:16:3e:00:00:01'}),
                   ('type', 'internal')).execute(check_error=True)
        out['external_ids'] = api.db_get('Interface', port, 'external_ids').execute(check_error=True)
        out['type'] = api.db_get('Interface', port, 'type').execute(check_error=True)
        out['datapath_type'] = api.db_get('Bridge', br, 'datapath_type').execute(check_error=True)
        out['bridges'] = ours(prefix, api.list_br().execute(check_error=True))
        out['ports'] = sorted(api.list_ports(br).execute(check_error=True))
        out['iface_to_br'] = api.iface_to_br(port).execute(check_error=True)
        out['br_exists'] = api.br_exists(br).execute(check_error=True)
        api.del_port(port).execute(check_error=True)
        out['ports_after_del_port'] = sorted(api.list_ports(br).execute(check_error=True))
        out['interfaces_after_del_port'] = names(api, 'Interface', prefix)
        api.del_br(br).execute(check_error=True)
        out['bridges_after_del_br'] = ours(prefix, api.list_br().execute(check_error=True))
        out['br_exists_after_del_br'] = api.br_exists(br).execute(check_error=True)
        out['ports_after_del_br'] = names(api, 'Port', prefix)
        out['interfaces_after_del_br'] = names(api, 'Interface', prefix)
    finally:
        conn.stop()


def osvif_session(remote, prefix, vhost_dir, out):
    idl = connection.OvsdbIdl.from_server(
        remote, 'Open_vSwitch', helper_tables=['Open_vSwitch', 'Bridge', 'Port', 'Interface'])
    conn = connection.Connection(idl, timeout=10)
    api = impl_idl.OvsdbIdl(conn)
    br, dev = prefix + '-vbr', 'vhu' + prefix
    path = vhost_dir + '/' + dev + '.sock'
    try:
        with api.transaction(check_error=True) as txn:
            txn.add(api.add_br(br, may_exist=True, datapath_type='netdev'))
            txn.add(api.add_port(br, dev))
            txn.add(api.db_set('Interface', dev,
                               ('external_ids', {'iface-id': prefix + '-vif',
                                                 'iface-status': 'active',
                                                 'attached-mac': 'fa:16:3e:aa:bb:00',
                                                 'vm-uuid': '8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d'}),
                               ('type', 'dpdkvhostuserclient'),
                               ('options', {'vhost-server-path': path})))
        api.db_set('Interface', dev, ('mtu_request', 1450)).execute(check_error=True)
        out['vif'] = {
            'type': api.db_get('Interface', dev, 'type').execute(check_error=True),
            'options': api.db_get('Interface', dev, 'options').execute(check_error=True),
            'mtu_request': api.db_get('Interface', dev, 'mtu_request').execute(check_error=True),
            'iface_status': api.db_get('Interface', dev, 'external_ids').execute(
                check_error=True).get('iface-status'),
            'ports': sorted(api.list_ports(br).execute(check_error=True)),
        }
        api.del_port(dev, bridge=br, if_exists=True).execute(check_error=True)
        api.del_port(dev, bridge=br, if_exists=True).execute(check_error=True)  # a no-op now
        out['vif']['ports_after_unplug'] = sorted(api.list_ports(br).execute(check_error=True))
        out['vif']['interfaces_after_unplug'] = [n for n in names(api, 'Interface', prefix) if n == dev]
        api.del_br(br).execute(check_error=True)
    finally:
        conn.stop()


def main():
    remote, prefix, vhost_dir = sys.argv[1:4]
    seen = ExceptionLog()
    logging.getLogger().addHandler(seen)
    logging.getLogger().setLevel(logging.INFO)
    out = {}
    start = time.monotonic()
    neutron_session(remote, prefix, out)
    osvif_session(remote, prefix, vhost_dir, out)
    out['seconds'] = time.monotonic() - start
    out['logged_exceptions'] = sorted(set(seen.names))
    print(json.dumps(out, sort_keys=True))


if __name__ == '__main__':
    main()

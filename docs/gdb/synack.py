# synack.py - gdb helpers for the synack TCP/IP stack.
#
#   source docs/gdb/synack.py          (or let gdb auto-load build/apps/tapnc-gdb.py)
#   print *c                           a TCB, state by name, numbers relative to ISS/IRS
#   synack-tcbs [STACK]                list every connection of a stack
#   synack-break-state STATE           stop when any connection enters STATE
#
# STACK defaults to the global `synack_gdb_stack` that tap/host.c sets.
# Works with the debug build (meson setup build-debug --buildtype=debug).

import gdb

STATES = ["CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED",
          "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK",
          "TIME_WAIT"]


def state_name(v):
    v = int(v)
    return STATES[v] if 0 <= v < len(STATES) else "?(%d)" % v


def ip(v):
    v = int(v) & 0xffffffff
    return "%d.%d.%d.%d" % (v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255)


def u32(v):
    return int(v) & 0xffffffff


def rel(v, base):
    return (u32(v) - u32(base)) & 0xffffffff


def tcb_endpoints(t):
    local = "%s:%d" % (ip(t["laddr"]), int(t["lport"]))
    if int(t["rport"]) == 0:
        return local, "*:*"
    return local, "%s:%d" % (ip(t["raddr"]), int(t["rport"]))


class TcbPrinter:
    """struct sk_tcb: the connection block, in RFC 9293's terms."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        t = self.val
        local, remote = tcb_endpoints(t)
        if int(t["state"]) == 1:  # LISTEN
            return "TCB LISTEN %s backlog=%d synq=%d acceptq=%d" % (
                local, int(t["backlog"]), int(t["synq_len"]),
                int(t["acceptq_len"]))
        iss, irs = t["iss"], t["irs"]
        # One deadline per kind (enum tcp_timer), in its order.
        kinds = ["rtx", "tlp", "reo", "persist", "delack", "keepalive", "2msl"]
        timers = []
        for k, name in enumerate(kinds):
            at = int(t["t"]["at"][k])
            if at:
                timers.append("%s@%dus" % (name, at))
        sb = t["sb"]
        cc = t["cc"]
        ca = ["open", "recovery", "loss"][int(t["ca_state"])]
        return ("TCB %s %s <-> %s\n"
                "  snd_una=ISS+%d snd_nxt=ISS+%d snd_max=ISS+%d snd_wnd=%d iss=%d\n"
                "  rcv_nxt=IRS+%d rcv_wnd=%d irs=%d mss=%d\n"
                "  srtt=%dus rttvar=%dus rto=%dus backoff=%d cwnd=%d ssthresh=%d\n"
                "  options: sack=%s ts=%s wscale=%s  ca=%s in flight: %d records,"
                " sacked=%dB lost=%dB\n"
                "  sndq=%dB rcvq=%dB ooo_ranges=%d fin_queued=%s fin_received=%s\n"
                "  timers: %s  error=%d app_owned=%s") % (
            state_name(t["state"]), local, remote,
            rel(t["snd_una"], iss), rel(t["snd_nxt"], iss),
            rel(t["snd_max"], iss), u32(t["snd_wnd"]), u32(iss),
            rel(t["rcv_nxt"], irs), u32(t["rcv_wnd"]), u32(irs), int(t["mss"]),
            u32(t["srtt_us"]), u32(t["rttvar_us"]), u32(t["rto_us"]),
            u32(t["backoff"]), u32(cc["cwnd"]), u32(cc["ssthresh"]),
            bool(t["sack_ok"]), bool(t["ts_ok"]),
            ("%d/%d" % (int(t["snd_wscale"]), int(t["rcv_wscale"])))
            if bool(t["ws_ok"]) else "off",
            ca, u32(sb["n"]), u32(sb["sacked"]), u32(sb["lost"]),
            u32(t["sndq"]["len"]), u32(t["rcvq"]["len"]), int(t["n_ooo"]),
            bool(t["fin_queued"]), bool(t["fin_received"]),
            ", ".join(timers) or "none", int(t["error"]),
            bool(t["app_owned"]))


def lookup(val):
    t = val.type.strip_typedefs()
    if t.code == gdb.TYPE_CODE_STRUCT and t.tag == "sk_tcb":
        return TcbPrinter(val)
    return None


def find_stack(arg):
    if arg:
        return gdb.parse_and_eval(arg)
    try:
        s = gdb.parse_and_eval("synack_gdb_stack")
        if int(s) != 0:
            return s
    except gdb.error:
        pass
    for name in ("s", "stack", "h->stack", "c->stack"):
        try:
            s = gdb.parse_and_eval(name)
            if s.type.strip_typedefs().code == gdb.TYPE_CODE_PTR and \
                    str(s.type.target().strip_typedefs().tag) == "sk_stack":
                return s
        except gdb.error:
            continue
    raise gdb.GdbError("synack: no stack found; give one: synack-tcbs EXPR")


def tcbs(stack):
    """Every TCB on the stack's list of all TCBs."""
    tcb_type = gdb.lookup_type("struct sk_tcb")
    offset = None
    for f in tcb_type.fields():
        if f.name == "all_link":
            offset = f.bitpos // 8
    head = stack["tcp"]["all"].address
    node = stack["tcp"]["all"]["next"]
    count = 0
    while int(node) != int(head) and count < 100000:
        addr = int(node) - offset
        yield gdb.Value(addr).cast(tcb_type.pointer())
        node = node["next"]
        count += 1


class TcbsCommand(gdb.Command):
    """synack-tcbs [STACK]: list the connections of a synack stack."""

    def __init__(self):
        super().__init__("synack-tcbs", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        stack = find_stack(arg.strip())
        n = 0
        for t in tcbs(stack):
            tv = t.dereference()
            local, remote = tcb_endpoints(tv)
            extra = ""
            if int(tv["state"]) not in (0, 1):
                extra = " snd_una=ISS+%d snd_nxt=ISS+%d rcv_nxt=IRS+%d" % (
                    rel(tv["snd_una"], tv["iss"]), rel(tv["snd_nxt"], tv["iss"]),
                    rel(tv["rcv_nxt"], tv["irs"]))
            gdb.write("(struct sk_tcb *) 0x%x  %-12s %-21s %-21s%s\n" % (
                int(t), state_name(tv["state"]), local, remote, extra))
            n += 1
        gdb.write("%d TCB%s\n" % (n, "" if n == 1 else "s"))


class StateBreakpoint(gdb.Breakpoint):
    """Stops in tcp_set_state when the new state is the one asked for."""

    def __init__(self, state):
        super().__init__("tcp_set_state", internal=False)
        self.want = state

    def stop(self):
        try:
            frame = gdb.selected_frame()
            new = int(frame.read_var("state"))
            c = frame.read_var("c").dereference()
        except (gdb.error, ValueError):
            return True  # cannot tell: stop rather than miss it
        if new != self.want:
            return False
        local, remote = tcb_endpoints(c)
        gdb.write("synack: %s %s %s -> %s\n" % (
            local, remote, state_name(c["state"]), state_name(new)))
        return True


class BreakStateCommand(gdb.Command):
    """synack-break-state STATE: stop when any connection enters STATE
    (LISTEN, SYN_RECEIVED, ESTABLISHED, ... as RFC 9293 names them)."""

    def __init__(self):
        super().__init__("synack-break-state", gdb.COMMAND_BREAKPOINTS)

    def complete(self, text, word):
        return [s for s in STATES if s.startswith(text.upper())]

    def invoke(self, arg, from_tty):
        name = arg.strip().upper().replace("-", "_")
        if name.startswith("SK_"):
            name = name[3:]
        if name not in STATES:
            raise gdb.GdbError("synack-break-state: unknown state '%s'; one of %s"
                               % (arg.strip(), ", ".join(STATES)))
        StateBreakpoint(STATES.index(name))


gdb.pretty_printers.append(lookup)
TcbsCommand()
BreakStateCommand()

/* tcp_states.c - the TCP state diagram of RFC 9293 section 3.3.2 as data:
 * every transition this stack can make, the event that makes it and the
 * function that calls tcp_set_state() for it (with its caller where that
 * function is a shared helper).  tcp_set_state() checks each change against
 * this table, and docs/states.md's picture is drawn from it, so the code,
 * its checks and its documentation cannot drift apart. */
#include "synack.h"

static const struct sk_transition transitions[] = {
    /* opening */
    {SK_CLOSED, SK_LISTEN, "sk_listen()", "passive OPEN"},
    {SK_CLOSED, SK_SYN_SENT, "sk_connect()", "active OPEN / snd SYN"},
    {SK_LISTEN, SK_SYN_RECEIVED, "listen_input()", "rcv SYN / snd SYN,ACK"},
    {SK_SYN_SENT, SK_SYN_RECEIVED, "syn_sent_input()", "rcv SYN / snd SYN,ACK (simultaneous open)"},
    {SK_SYN_SENT, SK_ESTABLISHED, "establish() from syn_sent_input()", "rcv SYN,ACK / snd ACK"},
    {SK_SYN_RECEIVED, SK_ESTABLISHED, "establish() from other_input()", "rcv ACK of SYN"},
    /* closing */
    {SK_ESTABLISHED, SK_FIN_WAIT_1, "sk_shutdown(), establish()", "CLOSE / snd FIN"},
    {SK_ESTABLISHED, SK_CLOSE_WAIT, "process_fin()", "rcv FIN / snd ACK"},
    {SK_FIN_WAIT_1, SK_FIN_WAIT_2, "other_input()", "rcv ACK of FIN"},
    {SK_FIN_WAIT_1, SK_CLOSING, "process_fin()", "rcv FIN / snd ACK"},
    {SK_FIN_WAIT_2, SK_TIME_WAIT, "enter_time_wait() from process_fin()", "rcv FIN / snd ACK"},
    {SK_CLOSING, SK_TIME_WAIT, "enter_time_wait() from other_input()", "rcv ACK of FIN"},
    {SK_CLOSE_WAIT, SK_LAST_ACK, "sk_shutdown()", "CLOSE / snd FIN"},
    {SK_LAST_ACK, SK_CLOSED, "tcb_close()", "rcv ACK of FIN"},
    {SK_TIME_WAIT, SK_CLOSED, "tcb_close()", "2*MSL timeout, or a new SYN"},
    /* resets, aborts and timeouts (RFC 9293 3.10.7.4 second, 3.10.5, 3.8.3) */
    {SK_SYN_SENT, SK_CLOSED, "tcb_close()", "rcv RST, CLOSE, or timeout"},
    {SK_SYN_RECEIVED, SK_CLOSED, "tcb_close()", "rcv RST, ABORT, or timeout"},
    {SK_ESTABLISHED, SK_CLOSED, "tcb_close()", "rcv RST, ABORT, or timeout"},
    {SK_FIN_WAIT_1, SK_CLOSED, "tcb_close()", "rcv RST, ABORT, or timeout"},
    {SK_FIN_WAIT_2, SK_CLOSED, "tcb_close()", "rcv RST, ABORT, or orphan timeout"},
    {SK_CLOSE_WAIT, SK_CLOSED, "tcb_close()", "rcv RST, ABORT, or timeout"},
    {SK_CLOSING, SK_CLOSED, "tcb_close()", "rcv RST, or timeout"},
    {SK_LAST_ACK, SK_CLOSED, "tcb_close()", "rcv RST, or timeout"},
    {SK_TIME_WAIT, SK_CLOSED, "tcb_close()", "rcv RST"},
};

const struct sk_transition *sk_tcp_transitions(size_t *n)
{
    *n = sizeof(transitions) / sizeof(transitions[0]);
    return transitions;
}

bool sk_tcp_transition_known(int from, int to)
{
    for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
        if (transitions[i].from == from && transitions[i].to == to)
            return true;
    return false;
}

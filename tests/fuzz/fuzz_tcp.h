/* fuzz_tcp.h - the operations of fuzz_tcp.c's input, shared with the
 * seed writer (seeds.c).  An operation is its opcode byte (the low four
 * bits count) and the argument bytes listed. */
#ifndef FUZZ_TCP_H
#define FUZZ_TCP_H

enum fz_tcp_op {
    /* A segment from the peer; opcodes 0..4 all mean it.
     *   sel:   bit 7 (or no flow yet) a new flow to our port ports_us[sel & 3]
     *          from 40000 + (sel >> 2 & 7), else flow sel % flows; bit 6 an
     *          ISN just below the wrap
     *   kind:  bits 0-2 ACK, ACK|PSH, SYN, SYN|ACK, FIN|ACK, RST, RST|ACK,
     *          or any flags (one more byte); 3 PSH, 4 URG, 5 ECE|CWR, 6 FIN;
     *          7: a payload follows, its length as u16 (& 0xfff)
     *   modes: bits 0-2 the sequence number (0, 2 after the highest the
     *          peer sent; 1 the stack's last ACK; 3 out of order (+1 byte, whose bit 7
     *          asks for one more: a sparse gap); 4 old (+1);
     *          5 the window's edge (+1); 6 the last again; 7 any (+4));
     *          3-5 the ACK (0-2 all sent; 3 the last again; 4 partial (+1);
     *          5 unsent (+1); 6 the SYN's; 7 any (+4)); 6 options follow
     *          (a mask byte: MSS (+1), wscale (+1), SACK-permitted,
     *          timestamps, SACK blocks (+1, +2 per block), raw (+1 +n),
     *          bit 6 an old TSval); 7 a SYN takes the sequence mode too
     *   wnd:   bits 0-2 the window; 3-7 the urgent pointer */
    OP_SEG = 0,
    OP_TIME = 5,      /* u8: (1 + n) ms */
    OP_JUMP = 6,      /* u8: bit 3 to the next deadline, else 0.2 s ... 2 h */
    OP_SEND = 7,      /* u8 handle, u8 length */
    OP_RECV = 8,      /* u8 handle, u8 length */
    OP_CLOSE = 9,     /* u8 handle */
    OP_ABORT = 10,    /* u8 handle */
    OP_SHUTDOWN = 11, /* u8 handle */
    OP_OPEN = 12,     /* u8: bit 0 listen (on ports_us[b >> 1 & 3]), else connect;
                       * no flush after it, so OP_OPTS may still resize */
    OP_POLL = 13,     /* takes the events, accepts every connection */
    OP_OPTS = 14,     /* u8 handle, u8 options */
    OP_NOP = 15,      /* nothing (seeds.c ends its programs with it) */
};

#endif

/* ladder.c - ladder diagrams, the picture at the top of the seed tutorial:
 * client on the left, server on the right, one arrow per segment with its
 * flags, relative seq and ack, and length. */
#include "ladder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void ladder_init(struct ladder *l, FILE *text, FILE *svg)
{
    memset(l, 0, sizeof(*l));
    l->text = text;
    l->svg = svg;
}

static struct ladder_conn *find(struct ladder *l, uint32_t sa, uint16_t sp, uint32_t da,
                                uint16_t dp, bool *right)
{
    for (int i = 0; i < LADDER_MAX_CONNS; i++) {
        struct ladder_conn *c = &l->conn[i];
        if (!c->used)
            continue;
        if (c->addr[0] == sa && c->port[0] == sp && c->addr[1] == da && c->port[1] == dp) {
            *right = false;
            return c;
        }
        if (c->addr[1] == sa && c->port[1] == sp && c->addr[0] == da && c->port[0] == dp) {
            *right = true;
            return c;
        }
    }
    return NULL;
}

void ladder_frame(struct ladder *l, const uint8_t *f, size_t len, uint64_t now_us)
{
    l->last = NULL;
    if (len < 14 + 20 + 20 || be16(f + 12) != 0x0800)
        return;
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 15) * 4, tot = be16(ip + 2);
    if (ip[9] != 6 || ihl < 20 || tot > len - 14 || tot < ihl + 20)
        return;
    const uint8_t *t = ip + ihl;
    size_t hlen = (size_t)(t[12] >> 4) * 4;
    if (hlen < 20 || hlen > tot - ihl)
        return;
    uint32_t sa = be32(ip + 12), da = be32(ip + 16);
    uint16_t sp = be16(t), dp = be16(t + 2);
    uint8_t flags = t[13];
    bool right = false;
    struct ladder_conn *c = find(l, sa, sp, da, dp, &right);
    if (!c || ((flags & 0x12) == 0x02 && c->ending)) {
        /* A new conversation starts with a SYN; its sender is the left column. */
        if (!(flags & 0x02))
            return;
        if (!c)
            for (int i = 0; i < LADDER_MAX_CONNS && !c; i++)
                if (!l->conn[i].used)
                    c = &l->conn[i];
        if (!c)
            return;
        free(c->segs);
        memset(c, 0, sizeof(*c));
        c->segs = calloc(LADDER_MAX_SEGS, sizeof(*c->segs));
        if (!c->segs)
            return;
        c->used = true;
        bool syn_ack = flags & 0x10;
        /* A SYN-ACK seen first (capture began mid-handshake): its sender is the server. */
        c->addr[0] = syn_ack ? da : sa;
        c->port[0] = syn_ack ? dp : sp;
        c->addr[1] = syn_ack ? sa : da;
        c->port[1] = syn_ack ? sp : dp;
        right = syn_ack;
    }
    uint32_t seq = be32(t + 4), ack = be32(t + 8);
    int me = right ? 1 : 0;
    /* The first SYN of a side gives its ISN; a later one elsewhere (a SYN
     * sent into the connection, RFC 5961 4.2) moves neither the ISN nor
     * the highest sequence sent. */
    bool syn_into = (flags & 0x02) && c->isn_known[me] && seq != c->isn[me];
    if ((flags & 0x02) && !c->isn_known[me]) {
        c->isn[me] = seq;
        c->isn_known[me] = true;
    }
    /* Sequence space this segment takes: data, and SYN and FIN count one.
     * Starting below the highest its side had sent makes it a
     * retransmission, as a reader of a capture judges it.  Seen from the
     * stack, that is exact for what the stack sent; for what it received
     * an original that a later segment overtook on the link looks the
     * same. */
    uint32_t data = (uint32_t)(tot - ihl - hlen);
    uint32_t space = data + ((flags & 0x02) && !syn_into ? 1 : 0) + ((flags & 0x01) ? 1 : 0);
    bool rtx = false;
    if (space) {
        rtx = c->hi_known[me] && (int32_t)(seq - c->hi[me]) < 0;
        if (!c->hi_known[me] || (int32_t)(seq + space - c->hi[me]) > 0)
            c->hi[me] = seq + space;
        c->hi_known[me] = true;
    }
    if (c->nsegs == LADDER_MAX_SEGS) {
        c->dropped++;
        return;
    }
    struct ladder_seg *s = &c->segs[c->nsegs++];
    s->t_us = now_us;
    s->right = right;
    s->flags = flags;
    s->seq = seq - (c->isn_known[me] ? c->isn[me] : 0);
    s->ack = ack - (c->isn_known[!me] ? c->isn[!me] : 0);
    s->len = data;
    s->win = be16(t + 14);
    s->rtx = rtx;
    s->why = NULL;
    s->explain[0] = '\0';
    s->dropped = false;
    l->last = s;
}

void ladder_explain(struct ladder *l, const char *why, bool dropped)
{
    if (!l->last)
        return;
    snprintf(l->last->explain, sizeof(l->last->explain), "%s", why);
    l->last->dropped = dropped;
}

void ladder_note(struct ladder *l, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
                 uint32_t seq, const char *why)
{
    bool right;
    struct ladder_conn *c = find(l, laddr, lport, raddr, rport, &right);
    if (!c || !c->isn_known[right])
        return;
    /* The note follows its segment at once: the last one from our side. */
    for (size_t i = c->nsegs; i-- > 0;) {
        struct ladder_seg *s = &c->segs[i];
        if (s->right != right)
            continue;
        if (s->seq == seq - c->isn[right])
            s->why = why;
        return;
    }
}

void ladder_conn_done(struct ladder *l, uint32_t laddr, uint16_t lport, uint32_t raddr,
                      uint16_t rport)
{
    bool right;
    struct ladder_conn *c = find(l, laddr, lport, raddr, rport, &right);
    if (c)
        c->ending = true;
}

static void flag_letters(uint8_t flags, char out[10])
{
    static const char letters[] = "FSRP.UEW"; /* tcpdump's order */
    int n = 0;
    for (int b = 0; b < 8; b++)
        if (flags & (1 << b))
            out[n++] = letters[b];
    if (n == 0)
        memcpy(out + n, "none", 5), n += 4;
    out[n] = '\0';
}

static void label(const struct ladder_seg *s, char *out, size_t cap)
{
    char f[10];
    flag_letters(s->flags, f);
    int n = snprintf(out, cap, "%s", f);
    if (s->len)
        n += snprintf(out + n, cap - (size_t)n, " seq %u:%u", s->seq, s->seq + s->len);
    else if (s->flags & 0x07)
        n += snprintf(out + n, cap - (size_t)n, " seq %u", s->seq);
    if (s->flags & 0x10)
        n += snprintf(out + n, cap - (size_t)n, " ack %u", s->ack);
    snprintf(out + n, cap - (size_t)n, " len %u", s->len);
}

static void endpoint(char *out, size_t cap, uint32_t a, uint16_t p)
{
    snprintf(out, cap, "%u.%u.%u.%u:%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, p);
}

#define LADDER_WIDTH 56 /* characters between the two columns */

void ladder_write_text(const struct ladder_conn *c, FILE *f)
{
    char a[32], b[32];
    endpoint(a, sizeof(a), c->addr[0], c->port[0]);
    endpoint(b, sizeof(b), c->addr[1], c->port[1]);
    fprintf(f, "%10s  %-*s%s\n", "", LADDER_WIDTH - 4, a, b);
    fprintf(f, "%10s  |%*s|\n", "ms", LADDER_WIDTH, "");
    uint64_t t0 = c->nsegs ? c->segs[0].t_us : 0;
    for (size_t i = 0; i < c->nsegs; i++) {
        const struct ladder_seg *s = &c->segs[i];
        char lab[96], line[LADDER_WIDTH + 1];
        label(s, lab, sizeof(lab));
        /* ---- label ---->   or   <---- label ---- */
        memset(line, s->rtx ? '=' : '-', LADDER_WIDTH);
        line[LADDER_WIDTH] = '\0';
        size_t ll = strlen(lab);
        if (ll > LADDER_WIDTH - 8)
            ll = LADDER_WIDTH - 8;
        size_t at = (LADDER_WIDTH - ll) / 2;
        line[at - 1] = ' ';
        memcpy(line + at, lab, ll);
        line[at + ll] = ' ';
        /* The arrowhead, or an x where a segment the stack dropped ended. */
        if (s->right)
            line[0] = s->dropped ? 'x' : '<';
        else
            line[LADDER_WIDTH - 1] = s->dropped ? 'x' : '>';
        /* What it is, beside the ladder where the label has no room. */
        const char *why = s->explain[0] ? s->explain
                          : s->why      ? s->why
                          : s->rtx      ? "retransmission"
                                        : NULL;
        fprintf(f, "%10.3f  |%s|%s%s\n", (double)(s->t_us - t0) / 1000.0, line, why ? "  " : "",
                why ? why : "");
    }
    if (c->dropped)
        fprintf(f, "%10s  (%zu more segments not drawn)\n", "", c->dropped);
}

static void svg_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
}

int ladder_write_svg(const struct ladder_conn *c, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int r = ladder_write_svg_to(c, f);
    return fclose(f) == 0 ? r : -1;
}

int ladder_write_svg_to(const struct ladder_conn *c, FILE *f)
{
    const int xl = 160, xr = 560, top = 70, step = 34, w = 720;
    int h = top + (int)c->nsegs * step + 40;
    char a[32], b[32];
    endpoint(a, sizeof(a), c->addr[0], c->port[0]);
    endpoint(b, sizeof(b), c->addr[1], c->port[1]);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"monospace\" font-size=\"12\">\n"
            "<defs><marker id=\"arrow\" markerWidth=\"10\" markerHeight=\"8\" refX=\"9\" "
            "refY=\"4\" orient=\"auto\"><path d=\"M0,0 L10,4 L0,8 z\" fill=\"#222\"/></marker>"
            "</defs>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            w, h);
    fprintf(f, "<text x=\"%d\" y=\"30\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n",
            xl, a);
    fprintf(f, "<text x=\"%d\" y=\"30\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n",
            xr, b);
    fprintf(f, "<line x1=\"%d\" y1=\"45\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n", xl, xl, h - 20);
    fprintf(f, "<line x1=\"%d\" y1=\"45\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n", xr, xr, h - 20);
    uint64_t t0 = c->nsegs ? c->segs[0].t_us : 0;
    for (size_t i = 0; i < c->nsegs; i++) {
        const struct ladder_seg *s = &c->segs[i];
        int y = top + (int)i * step;
        int x1 = s->right ? xr : xl, x2 = s->right ? xl : xr;
        /* Retransmissions: orange and dashed; RST red; SYN and FIN blue. */
        const char *colour = s->rtx              ? "#d60"
                             : (s->flags & 0x04) ? "#c00"
                             : (s->flags & 0x03) ? "#06c"
                                                 : "#222";
        /* --explain: the reason as the arrow's tooltip too. */
        fputs("<g>", f);
        if (s->explain[0]) {
            fputs("<title>", f);
            svg_escape(f, s->explain);
            fputs("</title>", f);
        }
        int y2 = y + step - 12;
        fprintf(
            f,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"1.5\"%s "
            "%s/>\n",
            x1, y, x2, y2, colour, s->rtx ? " stroke-dasharray=\"6,3\"" : "",
            s->dropped ? "" : "marker-end=\"url(#arrow)\"");
        if (s->dropped) /* a red x where the stack dropped it */
            fprintf(f,
                    "<path d=\"M%d,%d l10,10 m0,-10 l-10,10\" stroke=\"#c00\" "
                    "stroke-width=\"2\"/>\n",
                    x2 - 5, y2 - 5);
        char lab[128];
        label(s, lab, sizeof(lab));
        const char *why = s->why ? s->why : s->rtx ? "retransmission" : NULL;
        if (why && !s->explain[0])
            snprintf(lab + strlen(lab), sizeof(lab) - strlen(lab), " (%s)", why);
        /* The label sits on its arrow over a white box (monospace 12 px is
         * about 7.2 px a character). */
        int tw = (int)(strlen(lab) * 7.2) + 8;
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"15\" fill=\"white\"/>\n",
                (xl + xr) / 2 - tw / 2, y + 4, tw);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">", (xl + xr) / 2,
                y + 15, colour);
        svg_escape(f, lab);
        fprintf(
            f,
            "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#666\">%.3f ms</text>\n",
            xl - 12, y + 4, (double)(s->t_us - t0) / 1000.0);
        if (s->explain[0]) {
            /* The reason in small print under the label (10 px monospace,
             * about 6 px a character). */
            int ew = (int)(strlen(s->explain) * 6.0) + 8;
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"12\" fill=\"white\"/>\n",
                    (xl + xr) / 2 - ew / 2, y + 20, ew);
            fprintf(f,
                    "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\" "
                    "fill=\"%s\">",
                    (xl + xr) / 2, y + 29, s->dropped ? "#c00" : "#555");
            svg_escape(f, s->explain);
            fputs("</text>\n", f);
        }
        fputs("</g>\n", f);
    }
    fprintf(f, "</svg>\n");
    return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}

static void draw(struct ladder *l, struct ladder_conn *c)
{
    if (l->text) {
        fputc('\n', l->text);
        ladder_write_text(c, l->text);
        fputc('\n', l->text);
        fflush(l->text);
    }
    if (l->svg && !l->svg_written) {
        errno = 0;
        if (ladder_write_svg_to(c, l->svg) < 0 && !l->svg_errno)
            l->svg_errno = errno ? errno : EIO;
        l->svg_written = true;
    }
    free(c->segs);
    memset(c, 0, sizeof(*c));
    l->last = NULL;
}

void ladder_flush(struct ladder *l)
{
    for (int i = 0; i < LADDER_MAX_CONNS; i++)
        if (l->conn[i].used && l->conn[i].ending)
            draw(l, &l->conn[i]);
}

int ladder_finish(struct ladder *l)
{
    for (int i = 0; i < LADDER_MAX_CONNS; i++)
        if (l->conn[i].used)
            draw(l, &l->conn[i]);
    if (!l->svg)
        return 0;
    /* No connection was seen: still a valid SVG, which says so (the file
     * was created at start). */
    if (!l->svg_written) {
        errno = 0;
        fprintf(l->svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"360\" height=\"40\" "
                        "font-family=\"monospace\" font-size=\"12\">\n<text x=\"10\" "
                        "y=\"24\">no TCP connection was seen</text>\n</svg>\n");
        if ((fflush(l->svg) != 0 || ferror(l->svg)) && !l->svg_errno)
            l->svg_errno = errno ? errno : EIO;
    }
    errno = 0;
    if (fclose(l->svg) != 0 && !l->svg_errno)
        l->svg_errno = errno ? errno : EIO;
    l->svg = NULL;
    return l->svg_errno ? -1 : 0;
}

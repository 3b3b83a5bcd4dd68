/* trace_pcap FILE - prints every frame of a pcap file as synack's trace
 * formatter does, without timestamps, for comparison with `tcpdump -nn -t -r`. */
#include <pcap/pcap.h>
#include <stdio.h>

#include "trace.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: trace_pcap FILE.pcap\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "trace_pcap: %s\n", err);
        return 1;
    }
    static struct trace_state ts;
    struct pcap_pkthdr *h;
    const u_char *data;
    char line[2048];
    while (pcap_next_ex(p, &h, &data) == 1) {
        trace_format(&ts, data, h->caplen, line, sizeof(line));
        printf("%s\n", line);
    }
    pcap_close(p);
    return 0;
}

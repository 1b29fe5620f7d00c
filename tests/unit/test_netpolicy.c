/* test_netpolicy.c: unit tests of services/datasource_worker/netpolicy.c, the SSRF allow/deny lists:
 * parsing (good and bad entries), IPv4 and IPv6 prefixes, the default deny list, deny-wins-over-allow,
 * IPv4-mapped IPv6 addresses judged as IPv4, sockaddr and text entry points.
 * Prints one line per check and "N passed, N failed". The module is compiled into this test directly
 * (the unit-test rule links only libroma.a). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "services/datasource_worker/netpolicy.c"

static int passed, failed;

static void check(const char *name, int ok)
{
    printf("%s %s\n", ok ? "ok  " : "FAIL", name);
    if (ok) passed++;
    else failed++;
}

static netpolicy *mk(const char *allow, const char *deny)
{
    netpolicy *p = NULL;
    char err[128] = "";
    if (netpolicy_parse(allow, deny, &p, err, sizeof err) != 0) {
        printf("     parse failed: %s\n", err);
        return NULL;
    }
    return p;
}

static int text(const netpolicy *p, const char *ip) { return netpolicy_allows_text(p, ip); }

#define DEFAULT_DENY "169.254.0.0/16,fd00:ec2::254/128"

int main(void)
{
    char err[128];
    netpolicy *p = NULL;

    /* ---- parsing ---- */
    check("empty lists parse", netpolicy_parse("", "", &p, err, sizeof err) == 0 && p != NULL);
    check("empty lists have no entries", netpolicy_count(p, 0) == 0 && netpolicy_count(p, 1) == 0);
    check("empty policy allows public v4", text(p, "8.8.8.8") == 1);
    check("empty policy allows loopback", text(p, "127.0.0.1") == 1);
    netpolicy_free(p);

    check("NULL lists parse", netpolicy_parse(NULL, NULL, &p, err, sizeof err) == 0 && p != NULL);
    netpolicy_free(p);

    const char *bad[] = {"10.0.0.0/33", "::1/129", "10.0.0/8", "abc", "10.0.0.0/", "10.0.0.0/x", "1.2.3.4/1000",
                         "fe80::1%eth0", "/8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[96];
        p = (netpolicy *)1;
        err[0] = '\0';
        int rc = netpolicy_parse(bad[i], "", &p, err, sizeof err);
        snprintf(name, sizeof name, "rejects \"%s\"", bad[i]);
        check(name, rc == ROMA_EINVAL && p == NULL && strstr(err, "invalid CIDR") != NULL);
    }
    check("bad deny entry rejected too", netpolicy_parse("", "1.2.3.4,zz", &p, err, sizeof err) == ROMA_EINVAL);
    check("error names the entry", strstr(err, "zz") != NULL);

    p = mk(" 10.0.0.0/8 ,, 192.168.1.5;fd00::/8 ", "");
    check("separators and blanks tolerated", p && netpolicy_count(p, 0) == 3);
    netpolicy_free(p);

    /* ---- default deny list ---- */
    p = mk("", DEFAULT_DENY);
    check("default: metadata address denied", text(p, "169.254.169.254") == 0);
    check("default: any link-local v4 denied", text(p, "169.254.0.1") == 0);
    check("default: edge 169.255.0.0 allowed", text(p, "169.255.0.0") == 1);
    check("default: edge 169.253.255.255 allowed", text(p, "169.253.255.255") == 1);
    check("default: AWS v6 metadata denied", text(p, "fd00:ec2::254") == 0);
    check("default: neighbour fd00:ec2::253 allowed", text(p, "fd00:ec2::253") == 1);
    check("default: loopback allowed", text(p, "127.0.0.1") == 1);
    check("default: ::1 allowed", text(p, "::1") == 1);
    check("default: v4-mapped metadata denied", text(p, "::ffff:169.254.169.254") == 0);
    check("default: v4-mapped loopback allowed", text(p, "::ffff:127.0.0.1") == 1);
    check("not an IP literal -> -1", text(p, "example.com") == -1);
    check("NULL text -> -1", text(p, NULL) == -1);

    struct sockaddr_in s4;
    memset(&s4, 0, sizeof s4);
    s4.sin_family = AF_INET;
    s4.sin_port = htons(80);
    inet_pton(AF_INET, "169.254.169.254", &s4.sin_addr);
    check("sockaddr_in denied", netpolicy_allows(p, (struct sockaddr *)&s4) == 0);
    inet_pton(AF_INET, "10.1.2.3", &s4.sin_addr);
    check("sockaddr_in allowed", netpolicy_allows(p, (struct sockaddr *)&s4) == 1);
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:169.254.10.10", &s6.sin6_addr);
    check("sockaddr_in6 v4-mapped denied", netpolicy_allows(p, (struct sockaddr *)&s6) == 0);
    inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
    check("sockaddr_in6 allowed", netpolicy_allows(p, (struct sockaddr *)&s6) == 1);
    struct sockaddr su;
    memset(&su, 0, sizeof su);
    su.sa_family = AF_UNIX;
    check("other family refused", netpolicy_allows(p, &su) == 0);
    check("NULL sockaddr refused", netpolicy_allows(p, NULL) == 0);
    netpolicy_free(p);

    /* ---- allow lists ---- */
    p = mk("10.0.0.0/8,192.168.1.0/24,2001:db8::/32", DEFAULT_DENY);
    check("allow: inside 10/8", text(p, "10.255.0.1") == 1);
    check("allow: outside 10/8", text(p, "11.0.0.1") == 0);
    check("allow: inside /24", text(p, "192.168.1.200") == 1);
    check("allow: outside /24", text(p, "192.168.2.1") == 0);
    check("allow: v6 inside /32", text(p, "2001:db8:ffff::1") == 1);
    check("allow: v6 outside /32", text(p, "2001:db9::1") == 0);
    check("allow: loopback not listed -> refused", text(p, "127.0.0.1") == 0);
    check("allow: mapped 10.x allowed", text(p, "::ffff:10.0.0.1") == 1);
    netpolicy_free(p);

    p = mk("0.0.0.0/0", "10.0.0.0/8");
    check("deny wins over allow", text(p, "10.0.0.1") == 0);
    check("0.0.0.0/0 allows v4", text(p, "1.1.1.1") == 1);
    check("0.0.0.0/0 does not allow v6", text(p, "2001:db8::1") == 0);
    netpolicy_free(p);

    p = mk("", "10.1.2.3");
    check("bare address = /32 (hit)", text(p, "10.1.2.3") == 0);
    check("bare address = /32 (miss)", text(p, "10.1.2.4") == 1);
    netpolicy_free(p);

    p = mk("", "10.1.2.3/20");
    check("host bits cleared: 10.1.0.1 denied", text(p, "10.1.0.1") == 0);
    check("host bits cleared: 10.1.16.1 allowed", text(p, "10.1.16.1") == 1);
    netpolicy_free(p);

    p = mk("", "::/0");
    check("::/0 denies v6", text(p, "2001:db8::1") == 0);
    check("::/0 denies v4 too (mapped)", text(p, "8.8.8.8") == 0);
    netpolicy_free(p);

    p = mk("", "fe80::/10,0.0.0.0/32");
    check("fe80::/10 hit", text(p, "febf::1") == 0);
    check("fe80::/10 miss", text(p, "fec0::1") == 1);
    check("0.0.0.0 denied when listed", text(p, "0.0.0.0") == 0);
    netpolicy_free(p);

    check("NULL policy allows", netpolicy_allows_text(NULL, "169.254.169.254") == 1);
    check("NULL policy counts 0", netpolicy_count(NULL, 1) == 0);

    /* ---- denied endpoints (platform.c): address + port, whatever the ranges say ---- */
    p = mk("", "169.254.0.0/16");
    struct sockaddr_in db4 = {.sin_family = AF_INET, .sin_port = htons(54320)};
    inet_pton(AF_INET, "127.0.0.1", &db4.sin_addr);
    check("loopback allowed by an explicit deny list", netpolicy_allows(p, (struct sockaddr *)&db4) == 1);
    check("endpoint added", netpolicy_deny_endpoint(p, (struct sockaddr *)&db4) == 0 && netpolicy_count(p, 2) == 1);
    check("endpoint refused", netpolicy_allows(p, (struct sockaddr *)&db4) == 0);
    struct sockaddr_in other = db4;
    other.sin_port = htons(54321);
    check("same address, other port allowed", netpolicy_allows(p, (struct sockaddr *)&other) == 1);
    struct sockaddr_in6 mapped = {.sin6_family = AF_INET6, .sin6_port = htons(54320)};
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped.sin6_addr);
    check("endpoint refused as IPv4-mapped IPv6", netpolicy_allows(p, (struct sockaddr *)&mapped) == 0);
    struct sockaddr_in zero = db4;
    zero.sin_port = 0;
    check("range endpoint added", netpolicy_deny_endpoint_range(p, "127.0.0.0/8", 5432) == 0);
    struct sockaddr_in lo2 = db4;
    lo2.sin_port = htons(5432);
    inet_pton(AF_INET, "127.0.0.2", &lo2.sin_addr);
    check("range endpoint refused", netpolicy_allows(p, (struct sockaddr *)&lo2) == 0);
    check("bad range endpoint", netpolicy_deny_endpoint_range(p, "127.0.0.0/33", 5432) == ROMA_EINVAL);
    check("endpoint needs a port", netpolicy_deny_endpoint(p, (struct sockaddr *)&zero) == ROMA_EINVAL);
    netpolicy_free(p);

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* check_ftp.c: FTP datasources: log in with user_name/password and LIST the home directory, over
 * ftp:// (ftp_protocol "ftp", default; ftp_connect_mode passive (default) or active) or sftp://
 * (ftp_protocol "sftp"). The SDK documents no address fields for FTP; OpenROMA reads content.host and
 * content.port (default 21, or 22 for sftp).
 *
 * Passive mode data connections go to the control connection's address (CURLOPT_FTP_SKIP_PASV_IP), so
 * a server cannot steer the worker to another host with a crafted PASV answer; the pinned handle's
 * opensocket callback would refuse a denied address anyway. SFTP host keys are not verified (a
 * connectivity test has no known_hosts to compare with); the success detail says so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curl_pin.h"

void check_ftp(ds_job *job)
{
    const char *proto = ds_str(job, "ftp_protocol");
    int sftp = proto && !strcmp(proto, "sftp");
    const char *host = ds_str(job, "host");
    const char *user = ds_str(job, "user_name");
    const char *pass = ds_str(job, "password");
    const char *mode = ds_str(job, "ftp_connect_mode");
    int port = ds_port(job, "port", sftp ? 22 : 21);
    if (!host || !*host || port < 0) {
        ds_fail(job, DS_E_CONFIG, "FTP datasources need content.host (and optionally content.port)");
        return;
    }
    if (!user) {
        ds_fail(job, DS_E_CONFIG, "user_name is required");
        return;
    }
    char url[400];
    int v6 = strchr(host, ':') != NULL && host[0] != '[';
    snprintf(url, sizeof url, "%s://%s%s%s:%d/", sftp ? "sftp" : "ftp", v6 ? "[" : "", host, v6 ? "]" : "", port);

    ds_curl dc;
    char h[256];
    int p;
    if (ds_curl_open(job, &dc, url, sftp ? "sftp" : "ftp", h, sizeof h, &p) != 0) return;
    char ep[300];
    snprintf(ep, sizeof ep, "%s:%d", h, p);
    curl_easy_setopt(dc.h, CURLOPT_USERNAME, user);
    curl_easy_setopt(dc.h, CURLOPT_PASSWORD, pass ? pass : "");
    if (sftp) {
        curl_easy_setopt(dc.h, CURLOPT_SSH_AUTH_TYPES, (long)(CURLSSH_AUTH_PASSWORD | CURLSSH_AUTH_KEYBOARD));
    } else {
        curl_easy_setopt(dc.h, CURLOPT_FTP_SKIP_PASV_IP, 1L);
        if (mode && !strcmp(mode, "active")) curl_easy_setopt(dc.h, CURLOPT_FTPPORT, "-");
    }
    CURLcode rc = ds_curl_perform(&dc);
    if (rc == CURLE_OK) {
        ds_succeed(job, "logged in to %s as \"%s\" and listed the home directory (%s%s)", ep, user,
                   sftp ? "SFTP" : (mode && !strcmp(mode, "active") ? "FTP, active mode" : "FTP, passive mode"),
                   sftp ? ", host key not verified" : "");
    } else if (rc == CURLE_FTP_ACCEPT_FAILED || rc == CURLE_FTP_ACCEPT_TIMEOUT || rc == CURLE_FTP_PORT_FAILED) {
        ds_fail(job, DS_E_OTHER, "%s: logged in, but the active-mode data connection failed (try passive mode)", ep);
    } else if (rc == CURLE_FTP_WEIRD_PASV_REPLY || rc == CURLE_FTP_CANT_GET_HOST) {
        ds_fail(job, DS_E_OTHER, "%s: logged in, but the passive-mode data connection failed", ep);
    } else {
        ds_curl_fail(&dc, rc, sftp ? "the SFTP session" : "the FTP session", ep);
    }
    ds_curl_close(&dc);
}

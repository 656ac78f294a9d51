"""What the soak measures of the proxy: /proc figures and the admin endpoint's metrics."""
import http.client
import os


def http_get(port, path, timeout=5.0):
    """(status, body) of GET http://127.0.0.1:port/path, or (0, error text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, reply.read().decode(errors="replace")
    except OSError as exc:
        return 0, str(exc)
    finally:
        conn.close()


def metrics(port):
    """The /metrics page as {'name{labels}': value}, names without the spliceproxy_ prefix."""
    status, body = http_get(port, "/metrics")
    if status != 200:
        return {}
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name.removeprefix("spliceproxy_")] = float(value)
    return out


def proc_figures(pid):
    """RSS (KiB), threads, descriptors and, of those, pipe ends of process `pid`."""
    figures = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == "VmRSS":
                figures["rss_kib"] = int(value.split()[0])
            elif key == "Threads":
                figures["threads"] = int(value)
    fds = pipes = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        fds += 1
        pipes += target.startswith("pipe:")
    figures["fds"], figures["pipe_fds"] = fds, pipes
    return figures


def sample(pid, admin_port):
    """One sample: /proc figures plus the live sessions and pipe gauges of /metrics."""
    figures = proc_figures(pid)
    m = metrics(admin_port)
    figures["sessions_active"] = int(m.get("sessions_active", -1))
    figures["pipes_pooled"] = int(m.get("pipes_pooled", -1))
    figures["pipes_in_use"] = int(m.get("pipes_in_use", -1))
    # Pipe ends outside the pools (mirror feeds and staging, channels' pipes): the pools keep
    # up to 64 idle pipes per worker by design, so they are bounded apart.
    figures["unpooled_pipe_fds"] = figures["pipe_fds"] - 2 * max(0, figures["pipes_pooled"])
    figures["unpooled_fds"] = figures["fds"] - 2 * max(0, figures["pipes_pooled"])
    return figures

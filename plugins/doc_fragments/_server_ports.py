# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by server_ports and server_ports_info: which server, and where its configuration is."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  backend:
    description:
      - Which SMB server owns the ports.
      - V(pysmbd) edits the C([[listeners]]) of the bundled server's TOML config and reloads it without dropping
        sessions on ports that stay.
      - V(samba) edits C(smb ports) (Samba before 4.23) or C(server smb transports) (4.23 and later) in the
        C([global]) section of O(smb_conf), checks it with C(testparm) and restarts smbd (smbd binds its ports
        only at start-up).
      - V(windows) runs on the controller over WinRM (Windows Server 2025, Windows 11 24H2); only QUIC ports.
      - V(auto) picks V(windows) for WinRM and PSRP hosts, V(pysmbd) when O(config_path) exists, else V(samba)
        when smbd is installed.
    type: str
    choices: [auto, pysmbd, samba, windows]
    default: auto
  config_path:
    description: Path of pysmbd's TOML config (backend V(pysmbd)).
    type: path
    default: /etc/pysmbd/pysmbd.toml
  smb_conf:
    description: Path of Samba's smb.conf (backend V(samba)).
    type: path
    default: /etc/samba/smb.conf
  executable:
    description:
      - Path of the C(pysmbd) command (backend V(pysmbd)).
      - Defaults to C(pysmbd) on E(PATH), then C(/opt/pysmbd/venv/bin/pysmbd), where the
        C(smb.alternative_ports.pysmbd) role installs it.
    type: path
"""

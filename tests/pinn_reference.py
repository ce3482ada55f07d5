"""Reference solutions for the pinn tests and bench/pinn.py, computed without lagdsl."""
import numpy as np


def burgers_reference(nx: int = 2049, nu: float = 0.01 / np.pi):
    """u(x, t) of the Burgers example by finite differences (method of lines, conservative
    central flux, RK4) on ``nx`` points; returns ``(x, times, U)`` with U[k] at times[k]."""
    x = np.linspace(-1, 1, nx)
    dx = x[1] - x[0]
    dt = 0.5 * min(dx * dx / (2 * nu), dx)      # inside RK4's stability region for both terms
    times = np.linspace(0, 1, 11)
    u = -np.sin(np.pi * x)

    def rhs(u):
        f = 0.5 * u * u
        du = np.zeros_like(u)
        du[1:-1] = -(f[2:] - f[:-2]) / (2 * dx) + nu * (u[2:] - 2 * u[1:-1] + u[:-2]) / dx ** 2
        return du

    out, t = [u.copy()], 0.0
    for t_next in times[1:]:
        while t < t_next - 1e-12:
            h = min(dt, t_next - t)
            k1 = rhs(u); k2 = rhs(u + h / 2 * k1); k3 = rhs(u + h / 2 * k2); k4 = rhs(u + h * k3)
            u = u + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            t += h
        out.append(u.copy())
    return x, times, np.array(out)

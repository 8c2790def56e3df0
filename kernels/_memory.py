"""Array views that skip Numba's reference counting, for the hot loops.

Numba counts references to every array it passes between functions: an atomic increment and
decrement per array argument, which its pruning pass removes only when the control flow is
simple. In the step loop, with a dozen arrays handed to rules and cost functions on every
step, those atomic updates cost more than the arithmetic (measured: W1 with quarterly
rebalancing went from 36 to 16 ns per asset-step once the loop worked on borrowed views).

``borrow_nb(a)`` returns a view of ``a`` without a memory-info pointer, so Numba's
increments and decrements of it are no-ops. The view does not keep ``a`` alive: the caller
must hold the owning array until it is done with the view (kernel inputs are held by the
Python caller for the whole call; arrays allocated inside a kernel must stay referenced
until the kernel returns).

Each of those no-op updates is still a call, and a call inside a loop keeps the compiler
from holding values in registers across it. Kernels of the step loop that allocate nothing
are therefore compiled without reference counting at all (:func:`njit_no_refcount`, Numba's
``_nrt=False``; the taxable-account rows of the benchmark gained most, see
docs/frictions_taxes.md). Such a kernel must not allocate (Numba refuses to compile one that
does) nor call a kernel that returns a new array (its reference would never be released);
the arrays it receives are held by its caller. Kernels inlined into their callers
(``inline="always"``) take the caller's setting.

``fixed_fields_nb(lots, N_LOT_FIELDS)`` is a borrowed view whose last dimension is a
compile-time constant. Numba computes the address of ``lots[i, k, f]`` from the array's
runtime shape, so without it every lot access multiplies by a stride the compiler cannot
see, and a lot's four fields cannot be moved as one record; with it, the shift of a
cost-ordered book on each purchase compiles to vector moves (the taxed benchmark row went
from 74 to 64 ns per asset-step, docs/frictions_taxes.md).
"""

from numba import njit, types
from numba.core import cgutils
from numba.core.extending import intrinsic
from numba.np.arrayobj import make_array


@intrinsic
def borrow_nb(typingctx, arr):
    """A view of ``arr`` that Numba does not reference-count (see the module docstring)."""
    if not isinstance(arr, types.Array):
        return None
    sig = arr(arr)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        src = make_array(aryty)(context, builder, value=args[0])
        dst = make_array(aryty)(context, builder)
        dst.meminfo = cgutils.get_null_value(dst.meminfo.type)
        dst.parent = cgutils.get_null_value(dst.parent.type)
        dst.nitems = src.nitems
        dst.itemsize = src.itemsize
        dst.data = src.data
        dst.shape = src.shape
        dst.strides = src.strides
        return dst._getvalue()

    return sig, codegen


@intrinsic
def fixed_fields_nb(typingctx, arr, n_fields):
    """A borrowed view (see :func:`borrow_nb`) of a C-contiguous 3-D array whose last
    dimension is the compile-time constant ``n_fields`` (a global or a literal), so index
    arithmetic on its last two axes folds to constant offsets and moves of whole records
    can use vector instructions. ``arr.shape[2]`` must equal ``n_fields``."""
    if not (isinstance(arr, types.Array) and arr.ndim == 3 and arr.layout == "C"):
        return None
    if not isinstance(n_fields, types.IntegerLiteral):
        return None
    width = n_fields.literal_value
    sig = arr(arr, n_fields)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        src = make_array(aryty)(context, builder, value=args[0])
        dst = make_array(aryty)(context, builder)
        shape = cgutils.unpack_tuple(builder, src.shape)
        intp = context.get_value_type(types.intp)
        item = context.get_abi_sizeof(context.get_data_type(aryty.dtype))
        last = intp(width)
        row = intp(width * item)
        plane = builder.mul(shape[1], row)
        context.populate_array(
            dst,
            data=src.data,
            shape=cgutils.pack_array(builder, [shape[0], shape[1], last]),
            strides=cgutils.pack_array(builder, [plane, row, intp(item)]),
            itemsize=src.itemsize,
            meminfo=None,
        )
        return dst._getvalue()

    return sig, codegen


def njit_no_refcount(func=None, **options):
    """``numba.njit(cache=True)`` without Numba's reference counting (see the module
    docstring); as a bare decorator or with further ``njit`` options."""
    decorate = njit(cache=True, _nrt=False, **options)
    return decorate if func is None else decorate(func)

#pragma once
/// \file
/// InplaceFunction: a move-only callable wrapper with fixed inline storage and no heap
/// allocation, used for event handlers. A callable that does not fit is a compile error (capture a
/// pointer to the state instead). Layout: Capacity bytes of storage (8-byte aligned) plus one
/// pointer to a static operations table, so InplaceFunction<void(X&), 48> is 56 bytes.

#include <cstddef>
#include <cstring>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

namespace moesim {

template <class Signature, std::size_t Capacity>
class InplaceFunction;

/// A type-erased callable R(Args...) stored in place in `Capacity` bytes. Move-only; moving
/// relocates the stored callable (a memcpy when it is trivially copyable). Calling an empty
/// InplaceFunction is undefined; test with operator bool first where it may be empty.
template <class R, class... Args, std::size_t Capacity>
class InplaceFunction<R(Args...), Capacity> {
 public:
  /// Bytes available for the callable's captures.
  static constexpr std::size_t kCapacity = Capacity;
  /// Strictest alignment a stored callable may require.
  static constexpr std::size_t kAlignment = alignof(void*);

  /// An empty function.
  InplaceFunction() noexcept = default;

  /// Stores `f`. Fails to compile when `f` is larger than Capacity bytes, more aligned than
  /// kAlignment, or not nothrow-movable.
  template <class F, class D = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<D, InplaceFunction> &&
                                     std::is_invocable_r_v<R, D&, Args...>>>
  InplaceFunction(F&& f) {  // NOLINT(google-explicit-constructor): callables convert implicitly
    construct<D>(std::forward<F>(f));
  }

  /// Takes over `other`'s callable, leaving `other` empty.
  InplaceFunction(InplaceFunction&& other) noexcept { take(other); }
  /// Destroys the current callable, then takes over `other`'s, leaving `other` empty.
  InplaceFunction& operator=(InplaceFunction&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  InplaceFunction(const InplaceFunction&) = delete;
  InplaceFunction& operator=(const InplaceFunction&) = delete;
  ~InplaceFunction() { reset(); }

  /// Destroys the current callable (if any) and stores `f` in its place.
  template <class F, class D = std::decay_t<F>>
  void emplace(F&& f) {
    reset();
    if constexpr (std::is_same_v<D, InplaceFunction>) {
      static_assert(!std::is_lvalue_reference_v<F>, "emplace an InplaceFunction by rvalue");
      take(f);
    } else {
      construct<D>(std::forward<F>(f));
    }
  }

  /// Destroys the stored callable; the function becomes empty.
  void reset() noexcept {
    if (ops_ != nullptr && ops_->destroy != nullptr) ops_->destroy(storage_);
    ops_ = nullptr;
  }

  /// True when a callable is stored.
  explicit operator bool() const noexcept { return ops_ != nullptr; }

  /// Calls the stored callable (which must exist) with `args`.
  R operator()(Args... args) { return ops_->invoke(storage_, std::forward<Args>(args)...); }

 private:
  struct Ops {
    R (*invoke)(void*, Args&&...);
    void (*relocate)(void* dst, void* src) noexcept;  ///< nullptr: memcpy the storage
    void (*destroy)(void*) noexcept;                  ///< nullptr: trivially destructible
  };

  template <class D>
  static R invoke_impl(void* p, Args&&... args) {
    return std::invoke(*static_cast<D*>(p), std::forward<Args>(args)...);
  }
  template <class D>
  static void relocate_impl(void* dst, void* src) noexcept {
    D* s = static_cast<D*>(src);
    ::new (dst) D(std::move(*s));
    s->~D();
  }
  template <class D>
  static void destroy_impl(void* p) noexcept {
    static_cast<D*>(p)->~D();
  }
  template <class D>
  static constexpr bool kTrivial =
      std::is_trivially_copyable_v<D>&& std::is_trivially_destructible_v<D>;
  template <class D>
  static constexpr Ops kOps = {&invoke_impl<D>, kTrivial<D> ? nullptr : &relocate_impl<D>,
                               std::is_trivially_destructible_v<D> ? nullptr : &destroy_impl<D>};

  template <class D, class F>
  void construct(F&& f) {
    static_assert(sizeof(D) <= Capacity,
                  "callable too large for its InplaceFunction: capture a pointer to the state");
    static_assert(alignof(D) <= kAlignment, "callable is over-aligned for InplaceFunction");
    static_assert(std::is_nothrow_move_constructible_v<D>, "callable must be nothrow movable");
    ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
    ops_ = &kOps<D>;
  }

  void take(InplaceFunction& other) noexcept {
    if (other.ops_ == nullptr) return;
    if (other.ops_->relocate == nullptr) {
      std::memcpy(storage_, other.storage_, Capacity);
    } else {
      other.ops_->relocate(storage_, other.storage_);
    }
    ops_ = other.ops_;
    other.ops_ = nullptr;
  }

  /// Zeroed on construction so that relocation by memcpy never copies indeterminate bytes.
  alignas(kAlignment) unsigned char storage_[Capacity] = {};
  const Ops* ops_ = nullptr;
};

}  // namespace moesim
